/* SPDX-License-Identifier: GPL-2.0 */
/* Linux 6.1 has no IRQF_* flag beyond common/tapset/irqflags.h's. */

#define STP_IRQF_LINE
