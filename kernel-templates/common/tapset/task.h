/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The task tapset's C: members of a task_struct the script names by
 * address (task_current(), pid2task(), task_parent()), read without
 * faulting.  A bad address is a script error ("kernel read fault at
 * 0x..."), never an oops; a task that exited meanwhile reads as what its
 * memory holds.  The offsets are the tree's own (its headers), so the
 * same C serves every kernel line whose members keep their names.
 */

#ifndef STP_TAPSET_TASK_H
#define STP_TAPSET_TASK_H

#include <linux/sched.h>
#include <linux/sched/prio.h>
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/fdtable.h>
#include <linux/resource.h>

#define stp_task_ptr(task) ((struct task_struct *)(unsigned long)(task))

/* A member of the task at @task (a number, or a pointer), of its own type. */
#define stp_task_member(c, task, member)					\
	((typeof(stp_task_ptr(0)->member))					\
	 stp_deref((c), (u64)(unsigned long)&stp_task_ptr(task)->member,	\
		   sizeof(stp_task_ptr(0)->member), 0))

static __maybe_unused const char *stp_task_execname(struct stp_context *c, char *buf, s64 task)
{
	char comm[TASK_COMM_LEN];
	const void *at = stp_task_ptr(task)->comm;

	buf[0] = '\0';
	if (copy_from_kernel_nofault(comm, at, sizeof(comm))) {
		stp_read_fault(c, "kernel", (u64)(unsigned long)at);
		return buf;
	}
	comm[sizeof(comm) - 1] = '\0';
	strscpy(buf, comm, MAXSTRINGLEN);
	return buf;
}

/* Which of a task's ids task_uid() and friends read. */
enum stp_task_id { STP_UID, STP_EUID, STP_GID, STP_EGID };

/*
 * A task's user or group id as the initial user namespace sees it: the
 * real ids from its real_cred, the effective ones from its cred (the
 * kernel's task_uid() and task_euid()), each pointer and id read
 * without faulting, under RCU as the kernel reads them.
 */
static __maybe_unused s64 stp_task_id(struct stp_context *c, s64 task, enum stp_task_id which)
{
	const struct cred *cred;
	s64 id = -1;
	u32 val;

	rcu_read_lock();
	if (which == STP_UID || which == STP_GID)
		cred = stp_task_member(c, task, real_cred);
	else
		cred = stp_task_member(c, task, cred);
	if (c->last_error)
		goto out;
	switch (which) {
	case STP_UID:
		val = stp_deref(c, (u64)(unsigned long)&cred->uid.val, sizeof(val), 0);
		id = from_kuid_munged(&init_user_ns, KUIDT_INIT(val));
		break;
	case STP_EUID:
		val = stp_deref(c, (u64)(unsigned long)&cred->euid.val, sizeof(val), 0);
		id = from_kuid_munged(&init_user_ns, KUIDT_INIT(val));
		break;
	case STP_GID:
		val = stp_deref(c, (u64)(unsigned long)&cred->gid.val, sizeof(val), 0);
		id = from_kgid_munged(&init_user_ns, KGIDT_INIT(val));
		break;
	case STP_EGID:
		val = stp_deref(c, (u64)(unsigned long)&cred->egid.val, sizeof(val), 0);
		id = from_kgid_munged(&init_user_ns, KGIDT_INIT(val));
		break;
	}
out:
	rcu_read_unlock();
	return id;
}

/* The task of thread id @pid in the current pid namespace, or 0. */
static __maybe_unused s64 stp_pid2task(s64 pid)
{
	struct task_struct *t;

	if (pid <= 0 || pid > PID_MAX_LIMIT)
		return 0;
	rcu_read_lock();
	t = pid_task(find_vpid(pid), PIDTYPE_PID);
	rcu_read_unlock();
	return (s64)(unsigned long)t;
}

/*
 * A task's current limit @nr (RLIMIT_*), from its signal_struct, read
 * without faulting; -1 for a limit the kernel does not have (and for
 * RLIM_INFINITY, as SystemTap shows it).
 */
static __maybe_unused s64 stp_task_rlimit(struct stp_context *c, s64 task, s64 nr)
{
	struct signal_struct *sig;

	if (nr < 0 || nr >= RLIM_NLIMITS)
		return -1;
	sig = stp_task_member(c, task, signal);
	if (c->last_error)
		return -1;
	return (s64)stp_deref(c, (u64)(unsigned long)&sig->rlim[nr].rlim_cur,
			      sizeof(sig->rlim[nr].rlim_cur), 0);
}

static const char *const stp_rlimit_names[RLIM_NLIMITS] = {
	[RLIMIT_CPU] = "RLIMIT_CPU", [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
	[RLIMIT_DATA] = "RLIMIT_DATA", [RLIMIT_STACK] = "RLIMIT_STACK",
	[RLIMIT_CORE] = "RLIMIT_CORE", [RLIMIT_RSS] = "RLIMIT_RSS",
	[RLIMIT_NPROC] = "RLIMIT_NPROC", [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
	[RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK", [RLIMIT_AS] = "RLIMIT_AS",
	[RLIMIT_LOCKS] = "RLIMIT_LOCKS", [RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
	[RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE", [RLIMIT_NICE] = "RLIMIT_NICE",
	[RLIMIT_RTPRIO] = "RLIMIT_RTPRIO", [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
};

/* The number of the limit named @name ("RLIMIT_NOFILE"), or -1. */
static __maybe_unused s64 stp_rlimit_from_str(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(stp_rlimit_names); i++)
		if (stp_rlimit_names[i] && !strcmp(name, stp_rlimit_names[i]))
			return i;
	return -1;
}

/*
 * A task's file table, counted: its open descriptors (@open) or the size
 * of its table.  @task must be a live task (it is looked up by its pid,
 * under RCU, before anything of it is touched); its files are read under
 * its task lock, taken only if free, as exit_files() lets them go under
 * it.  0 for anything else (an exited or busy task, a kernel thread).
 */
static __maybe_unused s64 stp_task_files(struct stp_context *c, s64 task, bool open)
{
	struct task_struct *t = stp_task_ptr(task);
	struct files_struct *files;
	struct fdtable *fdt;
	s64 n = 0;
	pid_t pid;

	pid = stp_task_member(c, task, pid);
	if (c->last_error || in_nmi())
		return 0;
	rcu_read_lock();
	if (pid_task(find_pid_ns(pid, &init_pid_ns), PIDTYPE_PID) != t ||
	    !spin_trylock(&t->alloc_lock))
		goto out;
	files = t->files;
	if (files) {
		fdt = files_fdtable(files);
		n = open ? bitmap_weight(fdt->open_fds, fdt->max_fds) : fdt->max_fds;
	}
	spin_unlock(&t->alloc_lock);
out:
	rcu_read_unlock();
	return n;
}

#endif /* STP_TAPSET_TASK_H */
