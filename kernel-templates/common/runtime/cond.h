/* SPDX-License-Identifier: GPL-2.0 */
/*
 * probe P if (cond): P's kprobes are armed while cond holds.  A handler
 * that may change what cond reads checks it again when it ends (with the
 * globals' locks held) and says what it found here; a hit of P while cond
 * is false says so too.  A work item then enables or disables the kprobes
 * (enable_kprobe() sleeps, so never from the handler).  Hits in NMI leave
 * it to the next hit elsewhere: the handler's own check keeps the meaning.
 */

static bool stp_cond_want[STP_SCRIPT_PROBES] = { [0 ... STP_SCRIPT_PROBES - 1] = true };
static bool stp_cond_have[STP_SCRIPT_PROBES] = { [0 ... STP_SCRIPT_PROBES - 1] = true };
static bool stp_cond_stopping;

static void stp_cond_apply(struct work_struct *work);
static DECLARE_WORK(stp_cond_work, stp_cond_apply);

static __maybe_unused void stp_cond_set(int probe, bool on)
{
	if (READ_ONCE(stp_cond_want[probe]) == on || in_nmi() || READ_ONCE(stp_cond_stopping))
		return;
	WRITE_ONCE(stp_cond_want[probe], on);
	schedule_work(&stp_cond_work);
}
