/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The context tapset's C: where the probe hit, whether its registers are
 * there, and the current process's command line, read from its own
 * memory without faulting.
 */

#include <linux/mm_types.h>
#include <linux/sched/task_stack.h>

/* addr(): the probed instruction of a kprobe, else the registers' ip. */
static __maybe_unused s64 stp_probe_addr(struct stp_context *c)
{
	if (c->where)
		return c->where->addr;
	if (c->regs)
		return instruction_pointer(c->regs);
	return 0;
}

/* uaddr(): where the current process is in user space; 0 in a kernel thread. */
static __maybe_unused s64 stp_user_addr(struct stp_context *c)
{
	if (current->flags & PF_KTHREAD)
		return 0;
	if (c->regs && user_mode(c->regs))
		return instruction_pointer(c->regs);
	return instruction_pointer(task_pt_regs(current));
}

/* is_return(): a probe on a function's return (a point with .return). */
static __maybe_unused s64 stp_is_return(struct stp_context *c)
{
	return strstr(c->probe->pp, ".return") != NULL;
}

/*
 * Arguments @n to @m (all from @n when @m < @n) of the current process's
 * command line, separated by @delim: its argv strings as they lie in its
 * memory (mm->arg_start to arg_end).  "" in a kernel thread, when there
 * are fewer than n + 1 of them, or when its memory cannot be read.
 */
static __maybe_unused const char *stp_cmdline_args(char *buf, s64 n, s64 m, const char *delim)
{
	struct mm_struct *mm = current->mm;
	unsigned long at, end;
	size_t o = 0, dlen = strlen(delim);
	bool start = true, first = true;
	char chunk[64];
	s64 arg = 0;

	buf[0] = '\0';
	if (!mm || (current->flags & PF_KTHREAD) || n < 0)
		return buf;
	at = READ_ONCE(mm->arg_start);
	end = READ_ONCE(mm->arg_end);
	while (at < end && (m < n || arg <= m)) {
		size_t len = min_t(unsigned long, end - at, sizeof(chunk)), i;

		if (copy_from_user_nofault(chunk, (const void __user *)at, len)) {
			buf[0] = '\0';
			return buf;
		}
		for (i = 0; i < len && (m < n || arg <= m); i++) {
			bool wanted = arg >= n;

			if (start) {
				start = false;
				if (wanted && !first && o + dlen < MAXSTRINGLEN) {
					memcpy(buf + o, delim, dlen);
					o += dlen;
				}
				if (wanted)
					first = false;
			}
			if (chunk[i] == '\0') {
				arg++;
				start = true;
			} else if (wanted && o + 1 < MAXSTRINGLEN) {
				buf[o++] = chunk[i];
			}
		}
		at += len;
	}
	buf[o] = '\0';
	return buf;
}
