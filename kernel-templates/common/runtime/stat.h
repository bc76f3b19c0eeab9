/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Aggregates: s <<< v keeps count, sum, min, max, the sum of squares and a
 * histogram, log2 buckets (mode 0) or linear ones (mode 1: lo, hi, step,
 * fixed per variable at translation time).  Read with @count(s), @sum(s),
 * @min(s), @max(s), @avg(s), @variance(s); printed with print(@hist_*(s)).
 */

/* log2 buckets: 1..63 negative, 64 zero, 65..127 positive; linear: up to 128 */
#define STP_HIST_MAX 128
#define STP_HIST_ZERO 64

struct stp_stat {
	s64 count, sum, min, max, sumsq;
	u64 hist[STP_HIST_MAX];
};

enum {
	STP_STAT_COUNT, STP_STAT_SUM, STP_STAT_MIN, STP_STAT_MAX, STP_STAT_AVG,
	STP_STAT_VARIANCE,
};

/*
 * Linear buckets as SystemTap lays them out: 0 holds v < lo, bucket i holds
 * [lo + (i-1)*step, lo + i*step) for i in 1..(hi-lo)/step + 1 (so the last
 * regular bucket starts at hi), and the one after holds the rest.
 */
static inline int stp_hist_buckets(int mode, s64 lo, s64 hi, s64 step)
{
	return mode == 1 ? div64_s64(hi - lo, step) + 3 : STP_HIST_MAX;
}

/*
 * An aggregate kept in an array stores only the buckets its histogram
 * needs (none when the script prints no histogram of it): the stp_stat
 * head and nhist counters.
 */
static inline u32 stp_hist_slots(int mode, s64 lo, s64 hi, s64 step)
{
	return mode < 0 ? 0 : stp_hist_buckets(mode, lo, hi, step);
}

#define STP_STAT_SIZE(nhist)	(offsetof(struct stp_stat, hist) + (nhist) * sizeof(u64))

static int stp_hist_bucket(s64 v, int mode, s64 lo, s64 hi, s64 step)
{
	if (mode == 1) {
		int last = stp_hist_buckets(mode, lo, hi, step) - 1;

		if (v < lo)
			return 0;
		return min_t(s64, div64_u64(v - lo, step) + 1, last);
	}
	if (v == 0)
		return STP_HIST_ZERO;
	if (v > 0)
		return STP_HIST_ZERO + 1 + ilog2((u64)v);
	return STP_HIST_ZERO - 1 - ilog2(v == S64_MIN ? (u64)S64_MAX : (u64)-v);
}

static __maybe_unused int stp_stat_add(struct stp_stat *st, s64 v, int mode, s64 lo,
				       s64 hi, s64 step)
{
	if (!st)
		return 0;
	if (!st->count || v < st->min)
		st->min = v;
	if (!st->count || v > st->max)
		st->max = v;
	st->count++;
	st->sum += v;
	st->sumsq += v * v;
	if (mode >= 0)		/* -1: the script prints no histogram of it */
		st->hist[stp_hist_bucket(v, mode, lo, hi, step)]++;
	return 0;
}

static __maybe_unused s64 stp_stat_read(struct stp_context *c, const struct stp_stat *st,
					int what)
{
	s64 n = st ? st->count : 0;

	if (what == STP_STAT_COUNT)
		return n;
	if (what == STP_STAT_SUM)
		return n ? st->sum : 0;
	if (!n) {
		stp_error(c, "empty aggregate");
		return 0;
	}
	switch (what) {
	case STP_STAT_MIN:
		return st->min;
	case STP_STAT_MAX:
		return st->max;
	case STP_STAT_AVG:
		return div64_s64(st->sum, n);
	default:
		if (n < 2)
			return 0;
		return div64_s64(n * st->sumsq - st->sum * st->sum, n * (n - 1));
	}
}

/* p's values into m; both hold at least nhist histogram buckets. */
static __maybe_unused void stp_stat_merge(struct stp_stat *m, const struct stp_stat *p,
					  u32 nhist)
{
	u32 i;

	if (!p->count)
		return;
	if (!m->count || p->min < m->min)
		m->min = p->min;
	if (!m->count || p->max > m->max)
		m->max = p->max;
	m->count += p->count;
	m->sum += p->sum;
	m->sumsq += p->sumsq;
	for (i = 0; i < nhist; i++)
		m->hist[i] += p->hist[i];
}

/*
 * A scalar aggregate is per CPU.  s <<< v touches only this CPU's part and
 * takes no lock: handlers never nest on a CPU, so each part has a single
 * writer, which publishes through the part's sequence count.  Reading
 * (@count(s), ..., print(@hist_*(s))) merges every CPU's part, retrying a
 * part caught mid-update; `delete s` starts a new epoch, and a part from
 * an older one counts as empty (its CPU clears it on its next addition).
 * The global's lock, held by handlers that read or delete s, keeps readers
 * and deleters apart.
 */
struct stp_pstat {
	seqcount_t seq;
	u64 epoch;
	struct stp_stat st;
};

struct stp_agg {
	struct stp_pstat __percpu *parts;
	u64 epoch;
};

static DEFINE_PER_CPU(struct stp_stat, stp_merged);
static DEFINE_PER_CPU(struct stp_stat, stp_merged_part);

static __maybe_unused int stp_agg_init(struct stp_agg *a)
{
	unsigned int cpu;

	a->parts = alloc_percpu(struct stp_pstat);
	if (!a->parts)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		seqcount_init(&per_cpu_ptr(a->parts, cpu)->seq);
	return 0;
}

static __maybe_unused void stp_agg_free(struct stp_agg *a)
{
	free_percpu(a->parts);
}

static __maybe_unused int stp_agg_add(struct stp_agg *a, s64 v, int mode, s64 lo, s64 hi,
				      s64 step)
{
	struct stp_pstat *p = this_cpu_ptr(a->parts);
	u64 epoch = READ_ONCE(a->epoch);

	raw_write_seqcount_begin(&p->seq);
	if (unlikely(p->epoch != epoch)) {
		memset(&p->st, 0, sizeof(p->st));
		p->epoch = epoch;
	}
	stp_stat_add(&p->st, v, mode, lo, hi, step);
	raw_write_seqcount_end(&p->seq);
	return 0;
}

/* Every CPU's part merged (NULL after a script error: a part stayed busy). */
static __maybe_unused struct stp_stat *stp_agg_merge(struct stp_context *c, struct stp_agg *a)
{
	struct stp_stat *m = this_cpu_ptr(&stp_merged);
	u64 epoch = READ_ONCE(a->epoch);
	unsigned int cpu, seq;
	int tries;

	memset(m, 0, sizeof(*m));
	for_each_possible_cpu(cpu) {
		struct stp_pstat *p = per_cpu_ptr(a->parts, cpu);
		struct stp_stat *part = this_cpu_ptr(&stp_merged_part);

		for (tries = 0; tries < MAXTRYLOCK; tries++) {
			seq = raw_read_seqcount(&p->seq);
			if (!(seq & 1)) {
				part->count = 0;
				if (p->epoch == epoch)
					memcpy(part, &p->st, sizeof(*part));
				if (!read_seqcount_retry(&p->seq, seq))
					break;
			}
			udelay(TRYLOCKDELAY);
		}
		if (tries == MAXTRYLOCK) {
			stp_error(c, "aggregate busy on another CPU");
			return NULL;
		}
		stp_stat_merge(m, part, STP_HIST_MAX);
	}
	return m;
}

static __maybe_unused int stp_agg_clear(struct stp_agg *a)
{
	WRITE_ONCE(a->epoch, a->epoch + 1);
	return 0;
}

/* Columns a decimal number takes, its sign included. */
static int stp_hist_digits(s64 v)
{
	int n = v <= 0;
	u64 m = v < 0 ? -(u64)v : (u64)v;

	for (; m; m /= 10)
		n++;
	return n;
}

/* The value a bucket row is labelled with, and its prefix ("<", ">", ""). */
static s64 stp_hist_value(int i, int nb, int mode, s64 lo, s64 step, const char **prefix)
{
	*prefix = "";
	if (mode == 1) {
		if (i == 0) {
			*prefix = "<";
			return lo;
		}
		if (i == nb - 1) {
			*prefix = ">";
			return lo + (s64)(i - 2) * step;
		}
		return lo + (s64)(i - 1) * step;
	}
	if (i == STP_HIST_ZERO)
		return 0;
	if (i > STP_HIST_ZERO)
		return 1LL << (i - STP_HIST_ZERO - 1);
	return i == 0 ? S64_MIN : -(1LL << (STP_HIST_ZERO - 1 - i));
}

/*
 * print(@hist_*(s)) as SystemTap prints it: the used buckets with up to two
 * empty ones on either side (log histograms do not reach below 0 unless
 * values do; linear ones drop empty under/overflow rows), runs of empty
 * rows whose neighbours within two rows are empty elided to a "~" row,
 * bars of '@' one per count, or per ceil(max/50) counts beyond 50, and the
 * counts right-aligned.
 */
static __maybe_unused int stp_print_hist(struct stp_context *c, const struct stp_stat *st,
					 int mode, s64 lo, s64 hi, s64 step)
{
	int nb = stp_hist_buckets(mode, lo, hi, step);
	int low = -1, high = 0, i, k, vspace, cspace, eliding = 0, under = 0, over = 0;
	u64 top = 0, scale = 1;
	char bar[51];

	for (i = 0; st && i < nb; i++) {
		if (!st->hist[i])
			continue;
		if (low < 0)
			low = i;
		high = i;
		top = max(top, st->hist[i]);
	}
	if (low < 0) {
		stp_printf(c, "value |-------------------------------------------------- count\n");
		return 0;
	}
	for (i = 0; i < 2; i++) {
		if (low > 0 && (mode == 1 || low != STP_HIST_ZERO))
			low--;
		if (high < nb - 1)
			high++;
	}
	if (mode == 1) {
		if (low == 0 && !st->hist[0])
			low++;
		if (high == nb - 1 && !st->hist[high])
			high--;
		under = low == 0;
		over = high == nb - 1;
	}
	if (top > 50)
		scale = DIV_ROUND_UP_ULL(top, 50);
	cspace = stp_hist_digits(top);
	if (mode == 1) {
		vspace = max(stp_hist_digits(lo) + under,
			     stp_hist_digits(lo + step * high) + over);
	} else {
		const char *p;

		vspace = max(stp_hist_digits(stp_hist_value(high, nb, mode, lo, step, &p)),
			     stp_hist_digits(stp_hist_value(low, nb, mode, lo, step, &p)));
	}
	vspace = max(vspace, 5);
	stp_printf(c, "%*s |-------------------------------------------------- count\n",
		   vspace, "value");
	for (i = low; i <= high; i++) {
		const char *prefix;
		s64 val;
		int len;

		for (k = max(low, i - 2); k <= min(high, i + 2) && !st->hist[k]; k++)
			;
		if (k > min(high, i + 2)) {
			eliding = 1;
			continue;
		}
		if (eliding) {
			stp_printf(c, "%*s ~\n", vspace, "");
			eliding = 0;
		}
		val = stp_hist_value(i, nb, mode, lo, step, &prefix);
		len = div64_u64(st->hist[i], scale);
		memset(bar, '@', len);
		bar[len] = '\0';
		stp_printf(c, "%*s%lld |%s%*llu\n", vspace - stp_hist_digits(val), prefix,
			   (long long)val, bar, 50 - len + 1 + cspace,
			   (unsigned long long)st->hist[i]);
	}
	stp_printf(c, "\n");
	return 0;
}
