/* SPDX-License-Identifier: GPL-2.0 */
/* What the 6.1 line spells differently from later kernels. */

/* 6.1: unaligned accessors still live under asm/. */
#include <asm/unaligned.h>
