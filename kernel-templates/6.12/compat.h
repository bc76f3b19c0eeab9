/* SPDX-License-Identifier: GPL-2.0 */
/* What the 6.12 line spells differently from earlier kernels. */

/* 6.12: asm/unaligned.h moved to linux/unaligned.h (v6.12-rc2). */
#include <linux/unaligned.h>
