/* SPDX-License-Identifier: GPL-2.0 */
/* A flags word by the names of its bits, for the tapsets' decoders. */

#ifndef STP_TAPSET_FLAGS_H
#define STP_TAPSET_FLAGS_H

/* Bits of a flags word, as SystemTap names them: NAME|NAME|0xREST. */
struct stp_flag {
	unsigned long val;
	const char *name;
};

static __maybe_unused void stp_flags_str(char *buf, const struct stp_flag *flags,
					 unsigned long v)
{
	size_t o = strnlen(buf, MAXSTRINGLEN);

	for (; flags->name && v; flags++) {
		if ((v & flags->val) != flags->val)
			continue;
		o += scnprintf(buf + o, MAXSTRINGLEN - o, "%s%s", o ? "|" : "", flags->name);
		v &= ~flags->val;
	}
	if (v)
		scnprintf(buf + o, MAXSTRINGLEN - o, "%s0x%lx", o ? "|" : "", v);
}

#endif
