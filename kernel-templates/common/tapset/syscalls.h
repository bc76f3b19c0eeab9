/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The syscall tapsets' C: a syscall's arguments and return value, and
 * SystemTap's way of printing some of them.
 *
 * Arguments are read from the user registers the syscall was entered
 * with, task_pt_regs(current), through syscall_get_arguments(): the
 * kernel's own accessor, which knows the native and the ia32 calling
 * conventions.  Those registers stay as they were entered until the
 * syscall returns, so .return probes may read them too.
 */

#ifndef STP_TAPSET_SYSCALLS_H
#define STP_TAPSET_SYSCALLS_H

#include <asm/syscall.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include "tapset/flags.h"

static __maybe_unused unsigned long stp_syscall_arg(struct stp_context *c, int n)
{
	unsigned long args[6];

	if (n < 0 || n >= ARRAY_SIZE(args) || current->flags & PF_KTHREAD) {
		stp_error(c, "syscall arguments are read in a syscall probe only");
		return 0;
	}
	syscall_get_arguments(current, task_pt_regs(current), args);
	return args[n];
}

/* The syscall's number, or -1 outside a syscall. */
static __maybe_unused long stp_syscall_nr(void)
{
	if (current->flags & PF_KTHREAD)
		return -1;
	return syscall_get_nr(current, task_pt_regs(current));
}

/* What the probed function returns: in a .return probe. */
static __maybe_unused long stp_syscall_return(struct stp_context *c)
{
	if (!c->regs) {
		stp_error(c, "the return value is read in a .return probe only");
		return 0;
	}
	return regs_return_value(c->regs);
}

/* "text" of a user string, escaped as text_str() does, or 0xADDR. */
static __maybe_unused const char *stp_user_string_quoted(char *buf, u64 addr)
{
	char *raw = kmalloc(MAXSTRINGLEN, GFP_ATOMIC);
	size_t n;

	if (!raw || stp_copy_string(raw, addr, MAXSTRINGLEN - 2, true)) {
		snprintf(buf, MAXSTRINGLEN, "0x%llx", (unsigned long long)addr);
		kfree(raw);
		return buf;
	}
	buf[0] = '"';
	stp_text_str(buf + 1, raw);
	n = strnlen(buf, MAXSTRINGLEN - 2);
	buf[n] = '"';
	buf[n + 1] = '\0';
	kfree(raw);
	return buf;
}

/*
 * "bytes" of @len bytes of user memory at @addr, at most @max of them
 * (then "..." follows the quote), escaped; 0xADDR when unreadable.
 */
static __maybe_unused const char *stp_user_buffer_quoted(char *buf, u64 addr, s64 len, s64 max)
{
	char chunk[64];
	size_t o = 0;
	s64 done = 0, want = min(len, max);

	if (want < 0)
		want = 0;
	buf[o++] = '"';
	while (done < want && o + 8 < MAXSTRINGLEN) {
		size_t n = min_t(s64, want - done, sizeof(chunk));
		size_t i;

		if (copy_from_user_nofault(chunk, (const void __user *)(unsigned long)(addr + done),
					   n)) {
			snprintf(buf, MAXSTRINGLEN, "0x%llx", (unsigned long long)addr);
			return buf;
		}
		for (i = 0; i < n && o + 8 < MAXSTRINGLEN; i++)
			o = stp_text_char(buf, o, chunk[i]);
		done += n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	if (len > want)
		strlcat(buf, "...", MAXSTRINGLEN);
	return buf;
}

/* A pointer-sized word of user memory, 0 when unreadable. */
static __maybe_unused unsigned long stp_user_ulong(u64 addr, bool *fault)
{
	unsigned long v = 0;

	*fault = copy_from_user_nofault(&v, (const void __user *)(unsigned long)addr, sizeof(v));
	return v;
}

/* open(2)'s flags, in the order SystemTap prints them. */
static const struct stp_flag stp_open_flags[] = {
	{ O_CREAT, "O_CREAT" },
	{ O_EXCL, "O_EXCL" },
	{ O_NOCTTY, "O_NOCTTY" },
	{ O_TRUNC, "O_TRUNC" },
	{ O_APPEND, "O_APPEND" },
	{ O_NONBLOCK, "O_NONBLOCK" },
	{ O_SYNC, "O_SYNC" },
	{ O_DSYNC, "O_DSYNC" },
	{ FASYNC, "O_ASYNC" },
	{ O_DIRECT, "O_DIRECT" },
	{ O_LARGEFILE, "O_LARGEFILE" },
	{ O_DIRECTORY, "O_DIRECTORY" },
	{ O_NOFOLLOW, "O_NOFOLLOW" },
	{ O_NOATIME, "O_NOATIME" },
	{ O_CLOEXEC, "O_CLOEXEC" },
	{ O_PATH, "O_PATH" },
	{ 0, NULL }
};

static __maybe_unused const char *stp_open_flag_str(char *buf, long flags)
{
	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		strscpy(buf, "O_WRONLY", MAXSTRINGLEN);
		break;
	case O_RDWR:
		strscpy(buf, "O_RDWR", MAXSTRINGLEN);
		break;
	default:
		strscpy(buf, "O_RDONLY", MAXSTRINGLEN);
	}
	stp_flags_str(buf, stp_open_flags, (unsigned int)flags & ~O_ACCMODE);
	return buf;
}

static __maybe_unused const char *stp_seek_whence_str(char *buf, long whence)
{
	static const char *const names[] = {
		[SEEK_SET] = "SEEK_SET", [SEEK_CUR] = "SEEK_CUR", [SEEK_END] = "SEEK_END",
		[SEEK_DATA] = "SEEK_DATA", [SEEK_HOLE] = "SEEK_HOLE",
	};

	if (whence >= 0 && whence < ARRAY_SIZE(names) && names[whence])
		strscpy(buf, names[whence], MAXSTRINGLEN);
	else
		snprintf(buf, MAXSTRINGLEN, "%ld", whence);
	return buf;
}

#endif
