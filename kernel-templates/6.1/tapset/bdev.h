/* SPDX-License-Identifier: GPL-2.0 */
/* Linux 6.1: a block_device keeps its partition number in bd_partno. */

#ifndef STP_TAPSET_BDEV_H
#define STP_TAPSET_BDEV_H

#include <linux/blk_types.h>

static inline unsigned int stp_bdev_partno(struct stp_context *c, u64 bdev)
{
	return (u8)stp_deref(c, bdev + offsetof(struct block_device, bd_partno),
			     sizeof(u8), 0);
}

#endif
