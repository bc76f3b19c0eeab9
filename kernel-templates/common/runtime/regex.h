/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Regular expressions: s =~ "RE" and s !~ "RE".  stap-gen compiles each
 * regular expression when it translates the script, into a program for a
 * Thompson NFA (static const data of the module); stp_regex_match() runs
 * it over the string the way a Pike VM does: every thread advances one
 * byte at a time, in lock step, so a match takes time linear in the
 * string, never backtracks, never recurses and allocates nothing.  The
 * two thread lists live on the stack; a program has at most
 * STP_RE_MAXINSNS instructions, so each list holds every instruction at
 * most once.
 *
 * The match is unanchored: a thread starts at every position, and ^ and $
 * hold at the start and the end of the string only.
 */

#define STP_RE_MAXINSNS 256

enum {
	STP_RE_BYTE,	/* read a byte in lo..hi */
	STP_RE_CLASS,	/* read a byte of the set classes[x] */
	STP_RE_SPLIT,	/* go on at x and at y */
	STP_RE_JMP,	/* go on at x */
	STP_RE_BOL,	/* only at the start of the string */
	STP_RE_EOL,	/* only at its end */
	STP_RE_MATCH,	/* the string matches */
};

struct stp_re_insn {
	u8 op;
	u8 lo, hi;
	u16 x, y;
};

/* a set of bytes: byte b is in it when bit b & 63 of bits[b >> 6] is set */
struct stp_re_class {
	u64 bits[4];
};

struct stp_regex {
	const struct stp_re_insn *prog;
	int n;
	const struct stp_re_class *classes;
	int nclasses;
};

/* The threads at one position: each instruction once, in the order added. */
struct stp_re_list {
	int n;
	u8 pc[STP_RE_MAXINSNS];
	u8 in[STP_RE_MAXINSNS / 8];
};

static inline void stp_re_clear(struct stp_re_list *l)
{
	l->n = 0;
	memset(l->in, 0, sizeof(l->in));
}

static inline void stp_re_push(const struct stp_regex *re, struct stp_re_list *l,
			       unsigned int pc)
{
	if (pc >= (unsigned int)re->n || (l->in[pc / 8] & (1 << (pc % 8))))
		return;
	l->in[pc / 8] |= 1 << (pc % 8);
	l->pc[l->n++] = pc;
}

/*
 * Add a thread at pc, and every thread it becomes without reading a byte
 * (the list itself is the work list: each entry is expanded once).  True
 * when one of them is the match.
 */
static bool stp_re_add(const struct stp_regex *re, struct stp_re_list *l,
		       unsigned int pc, bool bol, bool eol)
{
	int i = l->n;

	stp_re_push(re, l, pc);
	for (; i < l->n; i++) {
		const struct stp_re_insn *in = &re->prog[l->pc[i]];

		switch (in->op) {
		case STP_RE_SPLIT:
			stp_re_push(re, l, in->x);
			stp_re_push(re, l, in->y);
			break;
		case STP_RE_JMP:
			stp_re_push(re, l, in->x);
			break;
		case STP_RE_BOL:
			if (bol)
				stp_re_push(re, l, l->pc[i] + 1);
			break;
		case STP_RE_EOL:
			if (eol)
				stp_re_push(re, l, l->pc[i] + 1);
			break;
		case STP_RE_MATCH:
			return true;
		}
	}
	return false;
}

static inline bool stp_re_reads(const struct stp_regex *re,
				const struct stp_re_insn *in, u8 ch)
{
	if (in->op == STP_RE_BYTE)
		return ch >= in->lo && ch <= in->hi;
	if (in->op == STP_RE_CLASS && in->x < re->nclasses)
		return (re->classes[in->x].bits[ch >> 6] >> (ch & 63)) & 1;
	return false;
}

/* Whether s (up to its NUL, at most MAXSTRINGLEN - 1 bytes) matches re: 1 or 0. */
static noinline __maybe_unused s64 stp_regex_match(const struct stp_regex *re, const char *s)
{
	struct stp_re_list lists[2];
	struct stp_re_list *cur = &lists[0], *next = &lists[1];
	bool end, next_end;
	int i, j;

	if (re->n <= 0 || re->n > STP_RE_MAXINSNS)
		return 0;
	stp_re_clear(cur);
	for (i = 0; ; i++) {
		end = i >= MAXSTRINGLEN - 1 || s[i] == '\0';
		/* unanchored: a match may start at any position */
		if (stp_re_add(re, cur, 0, i == 0, end))
			return 1;
		if (end)
			return 0;
		next_end = i + 1 >= MAXSTRINGLEN - 1 || s[i + 1] == '\0';
		stp_re_clear(next);
		for (j = 0; j < cur->n; j++) {
			if (stp_re_reads(re, &re->prog[cur->pc[j]], s[i]) &&
			    stp_re_add(re, next, cur->pc[j] + 1, false, next_end))
				return 1;
		}
		swap(cur, next);
	}
}
