/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The symbols tapset's C: kernel addresses as names, by the kernel's own
 * symbolizer (the %ps and %pS of its printk formats, as caller() uses):
 * the module looks up no symbol itself.
 */

#ifndef STP_TAPSET_SYMBOLS_H
#define STP_TAPSET_SYMBOLS_H

/* "name+0x4/0x1a0 [module]" of @addr, or 0x... when no symbol holds it. */
static __maybe_unused const char *stp_symdata(char *buf, u64 addr)
{
	size_t n = scnprintf(buf, MAXSTRINGLEN, "%pS", (void *)(unsigned long)addr);

	if (!strnstr(buf, " [", n) && strncmp(buf, "0x", 2))
		strlcat(buf, " [kernel]", MAXSTRINGLEN);
	return buf;
}

/* The module holding @addr, "kernel" for the kernel's own code; "" if none. */
static __maybe_unused const char *stp_modname(char *buf, u64 addr)
{
	size_t n = scnprintf(buf, MAXSTRINGLEN, "%pS", (void *)(unsigned long)addr);
	char *open = strnstr(buf, " [", n);
	char *close = open ? strchr(open, ']') : NULL;

	if (open && close) {
		*close = '\0';
		memmove(buf, open + 2, close - open - 1);
	} else if (strncmp(buf, "0x", 2)) {
		strscpy(buf, "kernel", MAXSTRINGLEN);
	} else {
		buf[0] = '\0';
	}
	return buf;
}

#endif /* STP_TAPSET_SYMBOLS_H */
