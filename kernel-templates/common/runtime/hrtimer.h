/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hrtimer behind timer.* and timer.profile probes: it runs the probe,
 * then moves itself one period on, until the script stops running.
 */
#ifndef STP_RUNTIME_HRTIMER_H
#define STP_RUNTIME_HRTIMER_H

struct stp_timer {
	struct hrtimer timer;
	u64 period_ns;
	const struct stp_probe *probe;
};

static enum hrtimer_restart stp_timer_fn(struct hrtimer *timer)
{
	struct stp_timer *t = container_of(timer, struct stp_timer, timer);

	if (atomic_read(&stp_state) != STP_RUNNING)
		return HRTIMER_NORESTART;
	stp_run_probe(t->probe, get_irq_regs(), STP_RUNNING);
	hrtimer_forward_now(timer, ns_to_ktime(t->period_ns));
	return HRTIMER_RESTART;
}

#endif /* STP_RUNTIME_HRTIMER_H */
