/* SPDX-License-Identifier: GPL-2.0 */
/* The IRQF_* flags Linux 6.12 adds to common/tapset/irqflags.h's. */

#define STP_IRQF_LINE { IRQF_COND_ONESHOT, "IRQF_COND_ONESHOT" },
