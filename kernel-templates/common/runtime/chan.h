/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The output channel: one ring of records per CPU, read by the runner
 * through /proc/stapgen_MODULE/output, which hands the records out
 * merged in the run's order (stp_next_seq(): a hit's output is ordered by
 * when it started printing, messages by when they were written).  While a
 * hit is printing, its CPU's ring says so (held: a lower bound of the
 * hit's number), and the reader hands out nothing newer until the hit's
 * record is written, so a hit that is slow to finish is not overtaken.
 *
 * Each record is one probe hit's output (or one message) and is stored
 * contiguously: a 16-byte little-endian header { u32 len; u8 type; u8 flags;
 * u16 cpu; u64 seq } followed by len bytes, padded to 16 bytes.  A
 * record that does not fit at the end of the ring goes to its start, after
 * a padding record.  A ring has one writer, its CPU (interrupts off, and a
 * flag against an NMI), and one reader, so neither ever waits for the
 * other: head and tail are published with release/acquire.  A record that
 * does not fit is dropped and counted, and the runner reports the count.
 *
 * Readers are woken from the housekeeping timer, never from probe
 * context, so a probe inside the scheduler cannot deadlock on a wakeup.
 */

#define STP_REC_HDR	16
#define STP_REC_PAD	0		/* type of a padding record */

struct stp_ring {
	char *buf;
	size_t size;			/* a power of two */
	u64 head;			/* bytes ever written (the CPU's writer) */
	u64 tail;			/* bytes ever consumed (the reader) */
	u64 last_seq;			/* of the ring's newest record */
	u64 held;			/* a hit printing here has a number >= this */
	int writing;
};

static struct {
	struct stp_ring *rings;		/* one per possible CPU */
	struct mutex read_lock;		/* one reader at a time */
	atomic64_t dropped_msgs;
	atomic64_t dropped_bytes;
} stp_chan;

static DECLARE_WAIT_QUEUE_HEAD(stp_chan_wait);

static void stp_rec_header(char *rec, u32 len, u8 type, u16 cpu, u64 ts)
{
	put_unaligned_le32(len, rec);
	rec[4] = type;
	rec[5] = 0;
	put_unaligned_le16(cpu, rec + 6);
	put_unaligned_le64(ts, rec + 8);
}

static void stp_chan_write_at(int type, const char *data, size_t len, u64 seq)
{
	size_t total = ALIGN(STP_REC_HDR + len, STP_REC_HDR), pos, to_end, need;
	struct stp_ring *r;
	unsigned long flags;
	u64 head;

	local_irq_save(flags);
	r = stp_chan.rings ? &stp_chan.rings[smp_processor_id()] : NULL;
	if (!r || !r->buf || r->writing)
		goto drop;
	r->writing = 1;
	head = r->head;
	pos = head & (r->size - 1);
	to_end = r->size - pos;
	need = total > to_end ? to_end + total : total;
	/* the reader is done with what lies before tail (pairs with its release) */
	if (total > r->size / 2 || head + need - smp_load_acquire(&r->tail) > r->size) {
		r->writing = 0;
		goto drop;
	}
	if (total > to_end) {
		stp_rec_header(r->buf + pos, to_end - STP_REC_HDR, STP_REC_PAD, 0, 0);
		head += to_end;
		pos = 0;
	}
	/* a ring stays in order even when a message overtook a hit's output */
	seq = max(seq, r->last_seq);
	r->last_seq = seq;
	stp_rec_header(r->buf + pos, len, type, smp_processor_id(), seq);
	memcpy(r->buf + pos + STP_REC_HDR, data, len);
	/* publish the record: the reader reads it after acquiring head */
	smp_store_release(&r->head, head + total);
	r->writing = 0;
	local_irq_restore(flags);
	return;
drop:
	local_irq_restore(flags);
	atomic64_inc(&stp_chan.dropped_msgs);
	atomic64_add(len, &stp_chan.dropped_bytes);
}

#define STP_NOT_HELD	U64_MAX

/* A hit starts printing: its number, after its ring holds back newer output. */
static u64 stp_chan_hold(void)
{
	struct stp_ring *r = stp_chan.rings ? &stp_chan.rings[smp_processor_id()] : NULL;

	if (r)
		WRITE_ONCE(r->held, atomic64_read(&stp_seq) + 1);
	smp_mb();		/* held is seen before anyone takes a later number */
	return stp_next_seq();
}

/* The hit's record is published (or dropped): newer output may go. */
static void stp_chan_unhold(void)
{
	struct stp_ring *r = stp_chan.rings ? &stp_chan.rings[smp_processor_id()] : NULL;

	if (r)
		smp_store_release(&r->held, STP_NOT_HELD);
}

/* The smallest number a hit still printing may have. */
static u64 stp_chan_min_held(void)
{
	u64 min = STP_NOT_HELD;
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		min = min_t(u64, min, smp_load_acquire(&stp_chan.rings[cpu].held));
	return min;
}

static void stp_chan_write(int type, const char *data, size_t len)
{
	stp_chan_write_at(type, data, len, stp_next_seq());
}

/* The next record of a ring (padding skipped), or NULL. */
static char *stp_ring_next(struct stp_ring *r)
{
	for (;;) {
		u64 tail = r->tail;
		char *rec;

		/* records before head are complete (pairs with the writer's release) */
		if (tail == smp_load_acquire(&r->head))
			return NULL;
		rec = r->buf + (tail & (r->size - 1));
		if (rec[4] != STP_REC_PAD)
			return rec;
		/* hand the padding back to the writer */
		smp_store_release(&r->tail, tail + STP_REC_HDR + get_unaligned_le32(rec));
	}
}

static bool stp_chan_empty(void)
{
	unsigned int cpu;

	if (!stp_chan.rings)
		return true;
	for_each_possible_cpu(cpu) {
		struct stp_ring *r = &stp_chan.rings[cpu];

		/* pairs with the writer's release of head */
		if (READ_ONCE(r->tail) != smp_load_acquire(&r->head))
			return false;
	}
	return true;
}

/* The oldest record of all the rings, and its ring. */
static char *stp_chan_oldest(struct stp_ring **ring)
{
	char *rec = NULL;
	unsigned int cpu;

	*ring = NULL;
	for_each_possible_cpu(cpu) {
		struct stp_ring *r = &stp_chan.rings[cpu];
		char *next = stp_ring_next(r);

		if (next && (!rec || get_unaligned_le64(next + 8) < get_unaligned_le64(rec + 8))) {
			*ring = r;
			rec = next;
		}
	}
	return rec;
}

/*
 * Copy whole records into @dst (at most @room bytes), the oldest first
 * across the CPUs.  Returns the bytes copied, or -EINVAL if @room cannot
 * hold the next record.
 */
static ssize_t stp_chan_take(char *dst, size_t room)
{
	size_t copied = 0;
	bool too_big = false;

	mutex_lock(&stp_chan.read_lock);
	for (;;) {
		struct stp_ring *best, *again;
		char *rec;
		size_t len;
		u64 held;

		rec = stp_chan_oldest(&best);
		if (!rec)
			break;
		/*
		 * A hit with an older number may be printing still: its ring's
		 * hold is visible now (it was set before that number was taken,
		 * and the record seen was written after).  A hit that finished
		 * since has published its record first: look again.
		 */
		smp_rmb();
		held = stp_chan_min_held();
		smp_rmb();
		if (stp_chan_oldest(&again) != rec)
			continue;
		if (get_unaligned_le64(rec + 8) >= held)
			break;
		len = STP_REC_HDR + get_unaligned_le32(rec);
		if (len > room - copied) {
			too_big = !copied;
			break;
		}
		memcpy(dst + copied, rec, len);
		copied += len;
		/* hand the record's bytes back to the writer (pairs with its acquire) */
		smp_store_release(&best->tail, best->tail + ALIGN(len, STP_REC_HDR));
	}
	mutex_unlock(&stp_chan.read_lock);
	return too_big ? -EINVAL : copied;
}

static int stp_chan_alloc(size_t size)
{
	size_t each = roundup_pow_of_two(max_t(size_t, size / num_possible_cpus(), 65536));
	unsigned int cpu;

	mutex_init(&stp_chan.read_lock);
	stp_chan.rings = kcalloc(nr_cpu_ids, sizeof(*stp_chan.rings), GFP_KERNEL);
	if (!stp_chan.rings)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		stp_chan.rings[cpu].buf = vmalloc(each);
		if (!stp_chan.rings[cpu].buf)
			return -ENOMEM;
		stp_chan.rings[cpu].size = each;
		stp_chan.rings[cpu].held = STP_NOT_HELD;
	}
	return 0;
}

static void stp_chan_free(void)
{
	unsigned int cpu;

	if (!stp_chan.rings)
		return;
	for_each_possible_cpu(cpu)
		vfree(stp_chan.rings[cpu].buf);
	kfree(stp_chan.rings);
	stp_chan.rings = NULL;
}
