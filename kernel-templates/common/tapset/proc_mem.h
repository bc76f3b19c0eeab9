/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The proc_mem tapset's C: a process's memory in pages, the numbers
 * /proc/PID/statm shows (size, resident, shared, text, data); how an mm
 * counts its pages is the line's (tapset/mm-line.h).  The current process's mm is its
 * own while the probe runs; another's is read under its task lock, taken
 * only if free (a probe never waits, and never spins on a lock the CPU
 * it interrupted may hold), so a busy or exiting process reads as 0.
 */

#ifndef STP_TAPSET_PROC_MEM_H
#define STP_TAPSET_PROC_MEM_H

#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/pid.h>
#include "tapset/mm-line.h"

enum stp_mem { STP_MEM_SIZE, STP_MEM_RSS, STP_MEM_SHR, STP_MEM_TXT, STP_MEM_DATA };

static long stp_mm_pages(struct mm_struct *mm, int what)
{
	switch (what) {
	case STP_MEM_SIZE:
		return READ_ONCE(mm->total_vm);
	case STP_MEM_RSS:
		return stp_mm_counter(mm, MM_FILEPAGES) + stp_mm_counter(mm, MM_SHMEMPAGES) +
		       stp_mm_counter(mm, MM_ANONPAGES);
	case STP_MEM_SHR:
		return stp_mm_counter(mm, MM_FILEPAGES) + stp_mm_counter(mm, MM_SHMEMPAGES);
	case STP_MEM_TXT:
		return (PAGE_ALIGN(READ_ONCE(mm->end_code)) -
			(READ_ONCE(mm->start_code) & PAGE_MASK)) >> PAGE_SHIFT;
	default:
		return READ_ONCE(mm->data_vm) + READ_ONCE(mm->stack_vm);
	}
}

/* @what of the process @pid (0: the current one), in pages; 0 without one. */
static __maybe_unused s64 stp_proc_mem(s64 pid, int what)
{
	struct task_struct *t;
	s64 pages = 0;

	if (pid == 0) {
		if (current->flags & PF_KTHREAD || !current->mm)
			return 0;
		return stp_mm_pages(current->mm, what);
	}
	if (pid < 0 || pid > PID_MAX_LIMIT || in_nmi())
		return 0;
	rcu_read_lock();
	t = pid_task(find_vpid(pid), PIDTYPE_PID);
	/* task_lock(), without waiting: t->mm stays while it is held */
	if (t && !(t->flags & PF_KTHREAD) && spin_trylock(&t->alloc_lock)) {
		if (t->mm)
			pages = stp_mm_pages(t->mm, what);
		spin_unlock(&t->alloc_lock);
	}
	rcu_read_unlock();
	return pages;
}

#endif /* STP_TAPSET_PROC_MEM_H */
