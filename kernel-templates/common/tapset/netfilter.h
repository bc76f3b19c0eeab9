/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The netfilter tapset's C: a packet's bytes as text, copied with
 * skb_copy_bits() (so paged data is read too), as much as a string holds.
 */

#ifndef STP_TAPSET_NETFILTER_H
#define STP_TAPSET_NETFILTER_H

#include <linux/skbuff.h>
#include "tapset/string.h"

/* The packet at @skb in hex ("4500003c..."), or quoted and escaped. */
static __maybe_unused const char *stp_skb_data(char *buf, s64 skb, bool hex)
{
	const struct sk_buff *s = (const struct sk_buff *)(unsigned long)skb;
	unsigned char *raw = this_cpu_ptr(stp_string_scratch);
	size_t n, i, o = 0;
	char esc[5];

	buf[0] = '\0';
	n = min_t(size_t, s->len, hex ? (MAXSTRINGLEN - 1) / 2 : MAXSTRINGLEN - 1);
	if (skb_copy_bits(s, 0, raw, n))
		return buf;
	if (hex) {
		for (i = 0; i < n; i++)
			o += scnprintf(buf + o, MAXSTRINGLEN - o, "%02x", raw[i]);
		return buf;
	}
	buf[o++] = '"';
	for (i = 0; i < n; i++) {
		size_t len = stp_escape_char(esc, raw[i]);

		if (o + len + 5 > MAXSTRINGLEN)	/* room for "..." and the end */
			break;
		memcpy(buf + o, esc, len);
		o += len;
	}
	buf[o++] = '"';
	if (i < s->len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

#endif /* STP_TAPSET_NETFILTER_H */
