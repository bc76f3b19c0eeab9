/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Linux 6.12: a block_device keeps its partition number in the low bits
 * of __bd_flags (bdev_partno()).
 */

#ifndef STP_TAPSET_BDEV_H
#define STP_TAPSET_BDEV_H

#include <linux/blk_types.h>

static inline unsigned int stp_bdev_partno(struct stp_context *c, u64 bdev)
{
	return (u32)stp_deref(c, bdev + offsetof(struct block_device, __bd_flags),
			      sizeof(atomic_t), 0) & BD_PARTNO;
}

#endif
