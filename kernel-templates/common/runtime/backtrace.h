/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Backtraces.  The kernel's own unwinder collects the return addresses
 * (stack_trace_save()); symbolizing them is user space's job: the module
 * writes the raw addresses between two \x1f bytes, with the running
 * address of stack_trace_save itself so the reader can undo KASLR, and
 * stap-gen turns them into function+offset and file:line from the tree's
 * vmlinux (its symbols and DWARF line table) as the output arrives.
 *
 *   \x1f B <ref> : <pc>,<pc>,... \x1f     return addresses
 *   \x1f P <ref> : <pc>,<pc>,... \x1f     the first pc is the probed instruction
 */

#define STP_BT_DEPTH 32

/*
 * This hit's stack, innermost first, without the runtime's own frames;
 * for a kprobe it starts at the probed instruction and continues with the
 * probed function's callers (the kprobe and ftrace frames in between are
 * dropped).  Returns the number of addresses stored in @pcs.
 */
static __maybe_unused unsigned int stp_stack(struct stp_context *c, unsigned long *pcs,
					     unsigned int max)
{
	unsigned long raw[STP_BT_DEPTH];
	const struct stp_where *w = c->where;
	unsigned int n, i = 0, k = 0;

	n = stack_trace_save(raw, ARRAY_SIZE(raw), 0);
	if (w && w->end) {
		while (i < n && !(raw[i] >= w->start && raw[i] < w->end))
			i++;
		pcs[k++] = w->addr;
		if (i < n)
			i++;		/* the probed function's frame is the probe's pc */
		else
			i = 0;
	}
	if (k == 0 || i == 0)
		while (i < n && within_module(raw[i], THIS_MODULE))
			i++;
	for (; i < n && k < max; i++)
		pcs[k++] = raw[i];
	return k;
}

/* sprint_backtrace(): the marker stap-gen expands into one line a frame. */
static __maybe_unused const char *stp_sprint_backtrace(struct stp_context *c, char *buf)
{
	unsigned long pcs[STP_BT_DEPTH];
	unsigned int n = stp_stack(c, pcs, ARRAY_SIZE(pcs)), i;
	size_t len;

	len = scnprintf(buf, MAXSTRINGLEN, "\x1f%c%lx:", c->where && c->where->end ? 'P' : 'B',
			(unsigned long)stack_trace_save);
	for (i = 0; i < n && len + 19 < MAXSTRINGLEN; i++)
		len += scnprintf(buf + len, MAXSTRINGLEN - len, "%s%lx", i ? "," : "", pcs[i]);
	scnprintf(buf + len, MAXSTRINGLEN - len, "\x1f");
	return buf;
}

/* backtrace(): the addresses as hex, as SystemTap gives them. */
static __maybe_unused const char *stp_backtrace(struct stp_context *c, char *buf)
{
	unsigned long pcs[STP_BT_DEPTH];
	unsigned int n = stp_stack(c, pcs, ARRAY_SIZE(pcs)), i;
	size_t len = 0;

	buf[0] = '\0';
	for (i = 0; i < n && len + 20 < MAXSTRINGLEN; i++)
		len += scnprintf(buf + len, MAXSTRINGLEN - len, "%s0x%lx", i ? " " : "", pcs[i]);
	return buf;
}

/* The return address into the probed function's caller (0 if unknown). */
static __maybe_unused s64 stp_caller_addr(struct stp_context *c)
{
	unsigned long pcs[3];
	unsigned int n = stp_stack(c, pcs, ARRAY_SIZE(pcs));
	unsigned int at = c->where && c->where->end ? 1 : 0;

	return at < n ? (s64)pcs[at] : 0;
}

/* caller(): "function+0xoff/0xsize" of that address, by the kernel's kallsyms. */
static __maybe_unused const char *stp_caller(struct stp_context *c, char *buf)
{
	unsigned long pc = (unsigned long)stp_caller_addr(c);

	if (!pc)
		return stp_strset(buf, "");
	snprintf(buf, MAXSTRINGLEN, "%pS", (void *)pc);
	return buf;
}
