/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An mm's page counters on Linux 6.12: per-CPU counters, summed as
 * /proc/PID/statm sums them (get_mm_counter_sum()) but without taking the
 * counter's lock, which a probe must not wait on: a fold running at that
 * moment can make the sum off by that CPU's batch.
 */

#ifndef STP_TAPSET_MM_LINE_H
#define STP_TAPSET_MM_LINE_H

#include <linux/mm.h>
#include <linux/percpu_counter.h>

static inline long stp_mm_counter(struct mm_struct *mm, int member)
{
	struct percpu_counter *fbc = &mm->rss_stat[member];
	s64 sum = READ_ONCE(fbc->count);
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(*per_cpu_ptr(fbc->counters, cpu));
	return sum > 0 ? sum : 0;
}

#endif /* STP_TAPSET_MM_LINE_H */
