/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The IRQF_* flags of <linux/interrupt.h>, for irqflags_str(): those every
 * line has here, the ones a line adds in its tapset/irqflags-line.h.
 */

#ifndef STP_TAPSET_IRQFLAGS_H
#define STP_TAPSET_IRQFLAGS_H

#include <linux/interrupt.h>
#include "tapset/flags.h"
#include "tapset/irqflags-line.h"

static const struct stp_flag stp_irq_flags[] = {
	{ IRQF_TRIGGER_RISING, "IRQF_TRIGGER_RISING" },
	{ IRQF_TRIGGER_FALLING, "IRQF_TRIGGER_FALLING" },
	{ IRQF_TRIGGER_HIGH, "IRQF_TRIGGER_HIGH" },
	{ IRQF_TRIGGER_LOW, "IRQF_TRIGGER_LOW" },
	{ IRQF_TRIGGER_PROBE, "IRQF_TRIGGER_PROBE" },
	{ IRQF_SHARED, "IRQF_SHARED" },
	{ IRQF_PROBE_SHARED, "IRQF_PROBE_SHARED" },
	{ IRQF_TIMER, "IRQF_TIMER" },
	{ IRQF_PERCPU, "IRQF_PERCPU" },
	{ IRQF_NOBALANCING, "IRQF_NOBALANCING" },
	{ IRQF_IRQPOLL, "IRQF_IRQPOLL" },
	{ IRQF_ONESHOT, "IRQF_ONESHOT" },
	{ IRQF_NO_SUSPEND, "IRQF_NO_SUSPEND" },
	{ IRQF_FORCE_RESUME, "IRQF_FORCE_RESUME" },
	{ IRQF_NO_THREAD, "IRQF_NO_THREAD" },
	{ IRQF_EARLY_RESUME, "IRQF_EARLY_RESUME" },
	{ IRQF_COND_SUSPEND, "IRQF_COND_SUSPEND" },
	{ IRQF_NO_AUTOEN, "IRQF_NO_AUTOEN" },
	{ IRQF_NO_DEBUG, "IRQF_NO_DEBUG" },
	STP_IRQF_LINE
	{ 0, NULL }
};

#endif
