/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A block device's name as the kernel prints one ("vda", "sda1",
 * "nvme0n1p2"), for bdevname() and the vfs and ioblock aliases; every
 * pointer and name read without faulting.  How a line keeps the
 * partition number is its tapset/bdev.h.
 */

#ifndef STP_TAPSET_BLOCKDEV_H
#define STP_TAPSET_BLOCKDEV_H

#include <linux/blkdev.h>
#include "tapset/bdev.h"

static __maybe_unused const char *stp_bdev_name(struct stp_context *c, char *buf, u64 bdev)
{
	char disk[DISK_NAME_LEN];
	unsigned int partno;
	u64 gd;
	size_t n;

	strscpy(buf, "N/A", MAXSTRINGLEN);
	if (!bdev)
		return buf;
	gd = stp_deref(c, bdev + offsetof(struct block_device, bd_disk), sizeof(void *), 0);
	partno = stp_bdev_partno(c, bdev);
	if (c->last_error || !gd)
		return buf;
	if (copy_from_kernel_nofault(disk, (void *)(unsigned long)
				     (gd + offsetof(struct gendisk, disk_name)), sizeof(disk))) {
		stp_read_fault(c, "kernel", gd + offsetof(struct gendisk, disk_name));
		return buf;
	}
	disk[sizeof(disk) - 1] = '\0';
	n = strlen(disk);
	if (!partno)
		snprintf(buf, MAXSTRINGLEN, "%s", disk);
	else if (n && isdigit(disk[n - 1]))
		snprintf(buf, MAXSTRINGLEN, "%sp%u", disk, partno);
	else
		snprintf(buf, MAXSTRINGLEN, "%s%u", disk, partno);
	return buf;
}

#endif
