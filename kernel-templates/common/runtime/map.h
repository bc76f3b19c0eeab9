/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Associative arrays.
 *
 * Every entry is preallocated when the module loads (MAXMAPENTRIES, or
 * the size the script declared), so a probe never allocates: a full
 * array is a script error, never a failed allocation in probe context,
 * unless it wraps (global a%): then the oldest entry makes room.
 * Keys are tuples of up to STP_MAXKEYS longs and strings; an entry stores
 * each key slot and the value inline, at offsets fixed per array.  The
 * caller holds the array's global lock.
 */

#define STP_MAXKEYS 9

enum stp_type { STP_LONG = 1, STP_STRING = 2, STP_STAT = 3 };

struct stp_key {
	s64 n[STP_MAXKEYS];
	const char *s[STP_MAXKEYS];
};

struct stp_map_entry {
	struct hlist_node hnode;
	struct list_head lnode;		/* live entries, oldest first */
	u32 hash;
	char data[];			/* key slots, then the value */
};

struct stp_map {
	const char *name;
	u8 nkeys;
	u8 keytype[STP_MAXKEYS];
	u8 valtype;
	u32 nhist;			/* STP_STAT values: histogram buckets kept */
	u32 maxentries;
	u32 count;
	bool wrap;			/* full: replace the oldest entry */
	size_t esize;
	size_t koff[STP_MAXKEYS];
	size_t voff;
	u32 nbuckets;
	struct hlist_head *buckets;
	char *pool;
	struct list_head free;
	struct list_head live;
	struct stp_map_entry **sorted;	/* foreach scratch */
};

static __maybe_unused size_t stp_slot_size(u8 type, u32 nhist)
{
	if (type == STP_STAT)
		return STP_STAT_SIZE(nhist);
	return type == STP_STRING ? MAXSTRINGLEN : sizeof(s64);
}

static __maybe_unused struct stp_map_entry *stp_map_entry_at(struct stp_map *m, u32 i)
{
	return (struct stp_map_entry *)(m->pool + (size_t)i * m->esize);
}

static __maybe_unused int stp_map_init(struct stp_map *m, const char *name, const char *keys,
			u8 valtype, u32 maxentries, u32 nhist)
{
	size_t off = 0;
	u32 i;

	m->name = name;
	m->nkeys = strlen(keys);
	for (i = 0; i < m->nkeys; i++) {
		m->keytype[i] = keys[i] == 's' ? STP_STRING : STP_LONG;
		m->koff[i] = off;
		off += stp_slot_size(m->keytype[i], 0);
	}
	m->valtype = valtype;
	m->nhist = nhist;
	m->voff = off;
	off += stp_slot_size(valtype, nhist);
	m->esize = ALIGN(sizeof(struct stp_map_entry) + off, 8);
	m->maxentries = maxentries;
	m->nbuckets = roundup_pow_of_two(maxentries);
	m->buckets = vzalloc(sizeof(*m->buckets) * m->nbuckets);
	m->pool = vzalloc(m->esize * maxentries);
	m->sorted = vzalloc(sizeof(*m->sorted) * maxentries);
	if (!m->buckets || !m->pool || !m->sorted)
		return -ENOMEM;
	INIT_LIST_HEAD(&m->free);
	INIT_LIST_HEAD(&m->live);
	for (i = 0; i < maxentries; i++)
		list_add_tail(&stp_map_entry_at(m, i)->lnode, &m->free);
	return 0;
}

static __maybe_unused void stp_map_free(struct stp_map *m)
{
	vfree(m->buckets);
	vfree(m->pool);
	vfree(m->sorted);
}

static __maybe_unused s64 *stp_entry_long(struct stp_map *m, struct stp_map_entry *e)
{
	return (s64 *)(e->data + m->voff);
}

static __maybe_unused char *stp_entry_str(struct stp_map *m, struct stp_map_entry *e)
{
	return e->data + m->voff;
}

static __maybe_unused s64 stp_entry_key_long(struct stp_map *m, struct stp_map_entry *e, int i)
{
	return *(s64 *)(e->data + m->koff[i]);
}

static __maybe_unused const char *stp_entry_key_str(struct stp_map *m, struct stp_map_entry *e, int i)
{
	return e->data + m->koff[i];
}

static __maybe_unused u32 stp_key_hash(struct stp_map *m, const struct stp_key *k)
{
	u32 h = 0;
	int i;

	for (i = 0; i < m->nkeys; i++) {
		if (m->keytype[i] == STP_STRING)
			h = jhash(k->s[i], strnlen(k->s[i], MAXSTRINGLEN - 1), h);
		else
			h = jhash(&k->n[i], sizeof(s64), h);
	}
	return h;
}

static __maybe_unused bool stp_key_equal(struct stp_map *m, struct stp_map_entry *e,
			  const struct stp_key *k)
{
	int i;

	for (i = 0; i < m->nkeys; i++) {
		if (m->keytype[i] == STP_STRING) {
			if (strncmp(stp_entry_key_str(m, e, i), k->s[i], MAXSTRINGLEN - 1))
				return false;
		} else if (stp_entry_key_long(m, e, i) != k->n[i]) {
			return false;
		}
	}
	return true;
}

static __maybe_unused struct stp_map_entry *stp_map_find(struct stp_map *m, const struct stp_key *k,
					  u32 hash)
{
	struct stp_map_entry *e;

	hlist_for_each_entry(e, &m->buckets[hash & (m->nbuckets - 1)], hnode)
		if (e->hash == hash && stp_key_equal(m, e, k))
			return e;
	return NULL;
}

static __maybe_unused struct stp_map_entry *stp_map_lookup(struct stp_map *m, const struct stp_key *k)
{
	return stp_map_find(m, k, stp_key_hash(m, k));
}

/* Find or add the entry for @k; NULL (and a script error) when full. */
static __maybe_unused struct stp_map_entry *stp_map_insert(struct stp_context *c, struct stp_map *m,
					    const struct stp_key *k)
{
	u32 hash, i;
	struct stp_map_entry *e;

	if (unlikely(c->last_error))	/* the value failed: change nothing */
		return NULL;
	hash = stp_key_hash(m, k);
	e = stp_map_find(m, k, hash);
	if (e)
		return e;
	if (list_empty(&m->free) && m->wrap && !list_empty(&m->live)) {
		e = list_first_entry(&m->live, struct stp_map_entry, lnode);
		hlist_del(&e->hnode);
		list_move(&e->lnode, &m->free);
		m->count--;
	}
	if (list_empty(&m->free)) {
		snprintf(c->error_buf, sizeof(c->error_buf),
			 "array '%s' overflow (MAXMAPENTRIES %u)", m->name, m->maxentries);
		stp_error(c, c->error_buf);
		return NULL;
	}
	e = list_first_entry(&m->free, struct stp_map_entry, lnode);
	list_move_tail(&e->lnode, &m->live);
	memset(e->data, 0, m->esize - sizeof(*e));
	e->hash = hash;
	for (i = 0; i < m->nkeys; i++) {
		if (m->keytype[i] == STP_STRING)
			strscpy(e->data + m->koff[i], k->s[i], MAXSTRINGLEN);
		else
			*(s64 *)(e->data + m->koff[i]) = k->n[i];
	}
	hlist_add_head(&e->hnode, &m->buckets[hash & (m->nbuckets - 1)]);
	m->count++;
	return e;
}

static __maybe_unused void stp_map_remove(struct stp_map *m, struct stp_map_entry *e)
{
	hlist_del(&e->hnode);
	list_move(&e->lnode, &m->free);
	m->count--;
}

static __maybe_unused void stp_map_delete(struct stp_map *m, const struct stp_key *k)
{
	struct stp_map_entry *e = stp_map_lookup(m, k);

	if (e)
		stp_map_remove(m, e);
}

/* Do @e's keys match @k in every key not in @wild (bit i: key i is *)? */
static __maybe_unused bool stp_entry_matches(struct stp_map *m, struct stp_map_entry *e,
					     const struct stp_key *k, unsigned int wild)
{
	int i;

	for (i = 0; i < m->nkeys; i++) {
		if (wild & (1u << i))
			continue;
		if (m->keytype[i] == STP_STRING ?
		    strncmp(stp_entry_key_str(m, e, i), k->s[i], MAXSTRINGLEN - 1) :
		    stp_entry_key_long(m, e, i) != k->n[i])
			return false;
	}
	return true;
}

/* delete a[*, k]: every entry that matches */
static __maybe_unused void stp_map_delete_matching(struct stp_map *m, const struct stp_key *k,
						   unsigned int wild)
{
	struct stp_map_entry *e, *tmp;

	list_for_each_entry_safe(e, tmp, &m->live, lnode)
		if (stp_entry_matches(m, e, k, wild))
			stp_map_remove(m, e);
}

/* [*, k] in a: is there an entry that matches */
static __maybe_unused bool stp_map_exists_matching(struct stp_map *m, const struct stp_key *k,
						   unsigned int wild)
{
	struct stp_map_entry *e;

	list_for_each_entry(e, &m->live, lnode)
		if (stp_entry_matches(m, e, k, wild))
			return true;
	return false;
}

static __maybe_unused void stp_map_clear(struct stp_map *m)
{
	struct stp_map_entry *e, *tmp;

	list_for_each_entry_safe(e, tmp, &m->live, lnode)
		stp_map_remove(m, e);
}

static __maybe_unused s64 stp_map_get_long(struct stp_map *m, const struct stp_key *k)
{
	struct stp_map_entry *e = stp_map_lookup(m, k);

	return e ? *stp_entry_long(m, e) : 0;
}

static __maybe_unused const char *stp_map_get_str(struct stp_map *m, const struct stp_key *k)
{
	struct stp_map_entry *e = stp_map_lookup(m, k);

	return e ? stp_entry_str(m, e) : "";
}

static __maybe_unused s64 stp_map_set_long(struct stp_context *c, struct stp_map *m,
			    const struct stp_key *k, s64 v)
{
	struct stp_map_entry *e = stp_map_insert(c, m, k);

	if (e)
		*stp_entry_long(m, e) = v;
	return v;
}

/* arr[k] += delta; returns the new value. */
static __maybe_unused s64 stp_map_add_long(struct stp_context *c, struct stp_map *m,
			    const struct stp_key *k, s64 delta)
{
	struct stp_map_entry *e = stp_map_insert(c, m, k);

	if (!e)
		return 0;
	*stp_entry_long(m, e) += delta;
	return *stp_entry_long(m, e);
}

static __maybe_unused const char *stp_map_set_str(struct stp_context *c, struct stp_map *m,
				   const struct stp_key *k, const char *v)
{
	struct stp_map_entry *e = stp_map_insert(c, m, k);

	if (!e)
		return v;
	strscpy(stp_entry_str(m, e), v, MAXSTRINGLEN);
	return stp_entry_str(m, e);
}

/* The aggregate of arr[k]: created for <<<, NULL when reading a missing one. */
static __maybe_unused struct stp_stat *stp_map_stat(struct stp_context *c, struct stp_map *m,
						    const struct stp_key *k, bool create)
{
	struct stp_map_entry *e = create ? stp_map_insert(c, m, k) : stp_map_lookup(m, k);

	return e ? (struct stp_stat *)(e->data + m->voff) : NULL;
}

/* foreach ordering: by value (column -1) or by key column, either way. */
struct stp_sort_spec {
	struct stp_map *m;
	int column;
	int desc;
	int stat;			/* aggregates: by STP_STAT_COUNT, _SUM, ... */
};

/* what an aggregate sorts by: @count, @sum, @min, @max or @avg (empty: 0) */
static __maybe_unused s64 stp_stat_order(const struct stp_stat *st, int stat)
{
	if (!st->count)
		return 0;
	switch (stat) {
	case STP_STAT_SUM:
		return st->sum;
	case STP_STAT_MIN:
		return st->min;
	case STP_STAT_MAX:
		return st->max;
	case STP_STAT_AVG:
		return div64_s64(st->sum, st->count);
	default:
		return st->count;
	}
}

static __maybe_unused int stp_cmp_slot(struct stp_map *m, struct stp_map_entry *a,
			struct stp_map_entry *b, int column, int stat)
{
	u8 type = column < 0 ? m->valtype : m->keytype[column];
	const char *pa = column < 0 ? a->data + m->voff : a->data + m->koff[column];
	const char *pb = column < 0 ? b->data + m->voff : b->data + m->koff[column];

	if (type == STP_STRING)
		return strncmp(pa, pb, MAXSTRINGLEN);
	if (type == STP_STAT) {		/* sorting by an aggregate: by @count unless asked */
		s64 ca = stp_stat_order((struct stp_stat *)pa, stat);
		s64 cb = stp_stat_order((struct stp_stat *)pb, stat);

		return ca == cb ? 0 : ca < cb ? -1 : 1;
	}
	if (*(s64 *)pa != *(s64 *)pb)
		return *(s64 *)pa < *(s64 *)pb ? -1 : 1;
	return 0;
}

static __maybe_unused int stp_sort_cmp(const void *pa, const void *pb, const void *priv)
{
	const struct stp_sort_spec *s = priv;
	struct stp_map_entry *a = *(struct stp_map_entry **)pa;
	struct stp_map_entry *b = *(struct stp_map_entry **)pb;
	int r = stp_cmp_slot(s->m, a, b, s->column, s->stat);
	int i;

	/* ties: by the keys, ascending, so the order is deterministic */
	for (i = 0; !r && i < s->m->nkeys; i++)
		r = stp_cmp_slot(s->m, a, b, i, 0);
	return s->desc ? -r : r;
}

/*
 * Fill m->sorted for a foreach: column 0 means unsorted (insertion
 * order), -1 by value (an aggregate's by @stat), n >= 1 by key n.
 * Returns the number of entries.
 */
static __maybe_unused u32 stp_map_sort_slice(struct stp_map *m, int column, int desc, int stat,
					      const struct stp_key *k, unsigned int wild)
{
	struct stp_sort_spec spec = { m, column > 0 ? column - 1 : -1, desc, stat };
	struct stp_map_entry *e;
	u32 n = 0;

	list_for_each_entry(e, &m->live, lnode)
		if (!k || stp_entry_matches(m, e, k, wild))
			m->sorted[n++] = e;
	if (column)
		sort_r(m->sorted, n, sizeof(*m->sorted), stp_sort_cmp, NULL, &spec);
	return n;
}

/* the same for every entry; foreach (k in a[x, *]) sorts only those matching */
static __maybe_unused u32 stp_map_sort(struct stp_map *m, int column, int desc, int stat)
{
	return stp_map_sort_slice(m, column, desc, stat, NULL, 0);
}

/*
 * An array of aggregates is per CPU, as SystemTap's pmaps: a[k] <<< v goes
 * to this CPU's own array under this CPU's lock, which only a reader
 * merging it ever contends for, and the handler takes no global lock for
 * it.  Reading a[k] merges the CPUs' entries for k; foreach first merges
 * every CPU's array into the aggregate one (agg), which it then walks.
 * Readers and deleters hold the global's lock, which keeps them apart.
 */
struct stp_pmap {
	struct stp_map agg;
	struct stp_map *parts;		/* one per possible CPU */
	raw_spinlock_t *locks;		/* ... and its lock */
};

static __maybe_unused int stp_pmap_init(struct stp_pmap *pm, const char *name, const char *keys,
					u32 maxentries, u32 nhist)
{
	unsigned int cpu;
	int ret;

	ret = stp_map_init(&pm->agg, name, keys, STP_STAT, maxentries, nhist);
	pm->parts = kcalloc(nr_cpu_ids, sizeof(*pm->parts), GFP_KERNEL);
	pm->locks = kcalloc(nr_cpu_ids, sizeof(*pm->locks), GFP_KERNEL);
	if (ret || !pm->parts || !pm->locks)
		return ret ?: -ENOMEM;
	for_each_possible_cpu(cpu) {
		raw_spin_lock_init(&pm->locks[cpu]);
		ret = stp_map_init(&pm->parts[cpu], name, keys, STP_STAT, maxentries, nhist);
		if (ret)
			return ret;
	}
	return 0;
}

/* global s%: every CPU's part, and the merged view, replace their oldest entry */
static __maybe_unused void stp_pmap_wrap(struct stp_pmap *pm)
{
	unsigned int cpu;

	pm->agg.wrap = true;
	for_each_possible_cpu(cpu)
		pm->parts[cpu].wrap = true;
}

static __maybe_unused void stp_pmap_free(struct stp_pmap *pm)
{
	unsigned int cpu;

	if (pm->parts)
		for_each_possible_cpu(cpu)
			stp_map_free(&pm->parts[cpu]);
	kfree(pm->parts);
	kfree(pm->locks);
	stp_map_free(&pm->agg);
}

static __maybe_unused int stp_pmap_add(struct stp_context *c, struct stp_pmap *pm,
				       const struct stp_key *k, s64 v, int mode, s64 lo, s64 hi,
				       s64 step)
{
	unsigned int cpu = smp_processor_id();
	unsigned long flags;

	if (!stp_trylock(&pm->locks[cpu], &flags)) {
		stp_skip_probe(true);
		return 0;
	}
	stp_stat_add(stp_map_stat(c, &pm->parts[cpu], k, true), v, mode, lo, hi, step);
	raw_spin_unlock_irqrestore(&pm->locks[cpu], flags);
	return 0;
}

/* a[k] merged over the CPUs; NULL when no CPU has k (or on a script error). */
static __maybe_unused struct stp_stat *stp_pmap_get(struct stp_context *c, struct stp_pmap *pm,
						    const struct stp_key *k)
{
	struct stp_stat *m = this_cpu_ptr(&stp_merged);
	struct stp_map_entry *e;
	unsigned long flags;
	unsigned int cpu;
	bool found = false;

	memset(m, 0, sizeof(*m));
	for_each_possible_cpu(cpu) {
		struct stp_map *part = &pm->parts[cpu];

		if (!stp_trylock(&pm->locks[cpu], &flags)) {
			stp_error(c, "aggregate array busy on another CPU (lock not acquired)");
			return NULL;
		}
		e = stp_map_lookup(part, k);
		if (e) {
			found = true;
			stp_stat_merge(m, (struct stp_stat *)(e->data + part->voff), part->nhist);
		}
		raw_spin_unlock_irqrestore(&pm->locks[cpu], flags);
	}
	return found ? m : NULL;
}

/* Merge every CPU's array into pm->agg, for a foreach (empty on an error). */
static __maybe_unused void stp_pmap_aggregate(struct stp_context *c, struct stp_pmap *pm)
{
	struct stp_map_entry *e, *a;
	struct stp_key k;
	unsigned long flags;
	unsigned int cpu;
	int i;

	stp_map_clear(&pm->agg);
	for_each_possible_cpu(cpu) {
		struct stp_map *part = &pm->parts[cpu];

		if (!stp_trylock(&pm->locks[cpu], &flags)) {
			stp_error(c, "aggregate array busy on another CPU (lock not acquired)");
			stp_map_clear(&pm->agg);
			return;
		}
		list_for_each_entry(e, &part->live, lnode) {
			for (i = 0; i < part->nkeys; i++) {
				if (part->keytype[i] == STP_STRING)
					k.s[i] = stp_entry_key_str(part, e, i);
				else
					k.n[i] = stp_entry_key_long(part, e, i);
			}
			a = stp_map_insert(c, &pm->agg, &k);
			if (!a)
				break;
			stp_stat_merge((struct stp_stat *)(a->data + pm->agg.voff),
				       (struct stp_stat *)(e->data + part->voff), part->nhist);
		}
		raw_spin_unlock_irqrestore(&pm->locks[cpu], flags);
	}
}

/* @k NULL: every entry; @wild: the keys (bit i: key i) that match anything */
static __maybe_unused void stp_pmap_delete_matching(struct stp_context *c, struct stp_pmap *pm,
						    const struct stp_key *k, unsigned int wild)
{
	unsigned long flags;
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		if (!stp_trylock(&pm->locks[cpu], &flags)) {
			stp_error(c, "aggregate array busy on another CPU (lock not acquired)");
			return;
		}
		if (!k)
			stp_map_clear(&pm->parts[cpu]);
		else if (wild)
			stp_map_delete_matching(&pm->parts[cpu], k, wild);
		else
			stp_map_delete(&pm->parts[cpu], k);
		raw_spin_unlock_irqrestore(&pm->locks[cpu], flags);
	}
	if (!k)
		stp_map_clear(&pm->agg);
	else if (wild)
		stp_map_delete_matching(&pm->agg, k, wild);
	else
		stp_map_delete(&pm->agg, k);
}

static __maybe_unused void stp_pmap_delete(struct stp_context *c, struct stp_pmap *pm,
					   const struct stp_key *k)
{
	stp_pmap_delete_matching(c, pm, k, 0);
}

