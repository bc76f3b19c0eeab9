/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The string tapsets' C: tokenize()'s state, escaping with a length and
 * quotes, strings of memory read and quoted.
 *
 * tokenize(s, delim) keeps the rest of s for the calls that follow with
 * "" in a per-CPU buffer: a handler runs on one CPU with preemption off
 * and never nests there, so one hit's calls see only their own state
 * (the next hit on that CPU finds what the last one left, as SystemTap's
 * per-context state does).  The same holds for the scratch buffer
 * strings of memory are read into before they are quoted.
 */

#ifndef STP_TAPSET_STRING_H
#define STP_TAPSET_STRING_H

#include <linux/percpu.h>

struct stp_tokenizer {
	char text[MAXSTRINGLEN];
	size_t at;		/* where the next token is looked for */
};

static DEFINE_PER_CPU(struct stp_tokenizer, stp_tokenizer);
static DEFINE_PER_CPU(char [MAXSTRINGLEN], stp_string_scratch);

/* The next non-empty token of @input (or, if it is "", of the last input). */
static __maybe_unused const char *stp_tokenize(char *buf, const char *input, const char *delim)
{
	struct stp_tokenizer *t = this_cpu_ptr(&stp_tokenizer);
	size_t len, n;

	if (input[0]) {
		strscpy(t->text, input, sizeof(t->text));
		t->at = 0;
	}
	len = strnlen(t->text, sizeof(t->text));
	if (t->at > len)
		t->at = len;
	t->at += strspn(t->text + t->at, delim);	/* empty tokens are skipped */
	n = strcspn(t->text + t->at, delim);
	memcpy(buf, t->text + t->at, n);
	buf[n] = '\0';
	t->at += n;
	return buf;
}

/* One byte as text_str() writes it: itself, \n, \t, \", \\ or \ooo. */
static size_t stp_escape_char(char *esc, unsigned char ch)
{
	if (ch == '\n')
		return scnprintf(esc, 5, "\\n");
	if (ch == '\t')
		return scnprintf(esc, 5, "\\t");
	if (ch == '"' || ch == '\\')
		return scnprintf(esc, 5, "\\%c", ch);
	if (ch < 32 || ch >= 127)
		return scnprintf(esc, 5, "\\%03o", ch);
	esc[0] = ch;
	esc[1] = '\0';
	return 1;
}

/*
 * @s escaped as text_str() does, in at most @outlen bytes (0: as many as
 * a string holds); with @quoted, between double quotes, with "..." after
 * them when @s did not fit or @more says it went on.
 */
static __maybe_unused const char *stp_text_strn(char *buf, const char *s, s64 outlen,
						bool quoted, bool more)
{
	size_t o = 0, room;
	char esc[5];

	if (outlen <= 0 || outlen > MAXSTRINGLEN - 1)
		outlen = MAXSTRINGLEN - 1;
	room = outlen;
	if (quoted) {
		/* the quotes, and "..." past outlen as long as a string holds it */
		room = max_t(size_t, room, 5) - 2;
		room = min_t(size_t, room, MAXSTRINGLEN - 1 - 5);
		buf[o++] = '"';
	}
	for (; *s; s++) {
		size_t n = stp_escape_char(esc, *s);

		if (n > room) {
			more = true;
			break;
		}
		memcpy(buf + o, esc, n);
		o += n;
		room -= n;
	}
	if (quoted) {
		buf[o++] = '"';
		if (more) {
			memcpy(buf + o, "...", 3);
			o += 3;
		}
	}
	buf[o] = '\0';
	return buf;
}

/*
 * At most @inlen bytes of the string at @addr, quoted and escaped in at
 * most @outlen bytes (0: no limit but the string's); its address as
 * 0x... when it cannot be read.  Never an error.
 */
static __maybe_unused const char *stp_memory_string_quoted(char *buf, u64 addr, s64 inlen,
							   s64 outlen, bool user)
{
	char *raw = this_cpu_ptr(stp_string_scratch);
	bool more;

	if (inlen <= 0 || inlen > MAXSTRINGLEN - 1)
		inlen = MAXSTRINGLEN - 1;
	if (stp_copy_string(raw, addr, MAXSTRINGLEN, user)) {
		snprintf(buf, MAXSTRINGLEN, "0x%llx", (unsigned long long)addr);
		return buf;
	}
	more = strlen(raw) > inlen;
	raw[inlen] = '\0';
	return stp_text_strn(buf, raw, outlen, true, more);
}

#endif /* STP_TAPSET_STRING_H */
