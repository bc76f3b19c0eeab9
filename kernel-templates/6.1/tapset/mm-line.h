/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An mm's page counters on Linux 6.1: atomics (each task's cached part is
 * folded in every few faults), read as /proc/PID/statm reads them.
 */

#ifndef STP_TAPSET_MM_LINE_H
#define STP_TAPSET_MM_LINE_H

#include <linux/mm.h>

static inline long stp_mm_counter(struct mm_struct *mm, int member)
{
	return get_mm_counter(mm, member);
}

#endif /* STP_TAPSET_MM_LINE_H */
