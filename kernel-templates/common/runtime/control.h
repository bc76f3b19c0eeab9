/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The runner's side of the module: /proc/stapgen_MODULE/ holds
 *
 *   output   records of the script's output (read, poll)
 *   control  write "stop" to stop the script; read the run's status
 *
 * Stopping always happens in process context: from a write to control,
 * from the stop work (queued by the housekeeping timer when a probe
 * called exit() or an error limit was hit), or from module exit.
 */

static DEFINE_MUTEX(stp_stop_mutex);
static struct proc_dir_entry *stp_proc_dir;
static void stp_unregister_probes(void);
static void stp_run_end_probes(void);
static void stp_run_error_probes(void);

static void stp_stop(void)
{
	mutex_lock(&stp_stop_mutex);
	if (atomic_read(&stp_state) >= STP_STOPPING) {
		mutex_unlock(&stp_stop_mutex);
		return;
	}
	atomic_set(&stp_state, STP_STOPPING);
	stp_unregister_probes();
	if (!atomic_read(&stp_error_stop))
		stp_run_end_probes();
	else
		stp_run_error_probes();
	atomic_set(&stp_state, STP_STOPPED);
	mutex_unlock(&stp_stop_mutex);
	wake_up_interruptible(&stp_chan_wait);
}

static void stp_stop_work_fn(struct work_struct *work)
{
	stp_stop();
}

static DECLARE_WORK(stp_stop_work, stp_stop_work_fn);
static struct timer_list stp_housekeeping;

/* Every STP_HOUSEKEEPING_MS: wake readers, act on exit(). */
static void stp_housekeeping_fn(struct timer_list *t)
{
	if (atomic_read(&stp_exit_requested) &&
	    atomic_read(&stp_state) == STP_RUNNING)
		schedule_work(&stp_stop_work);
	if (!stp_chan_empty())
		wake_up_interruptible(&stp_chan_wait);
	mod_timer(&stp_housekeeping,
		  jiffies + msecs_to_jiffies(STP_HOUSEKEEPING_MS));
}

static bool stp_output_ready(void)
{
	return !stp_chan_empty() || atomic_read(&stp_state) == STP_STOPPED;
}

static ssize_t stp_output_read(struct file *file, char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	size_t room = min_t(size_t, count, STP_READ_CHUNK);
	ssize_t n = 0;
	char *kbuf;
	int ret;

	kbuf = kvmalloc(room, GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;
	while (!n) {		/* (a ring may hold only padding: 0 records) */
		while (stp_chan_empty()) {
			ret = 0;
			if (atomic_read(&stp_state) == STP_STOPPED)
				goto out;	/* end of output */
			ret = -EAGAIN;
			if (file->f_flags & O_NONBLOCK)
				goto out;
			ret = wait_event_interruptible(stp_chan_wait, stp_output_ready());
			if (ret)
				goto out;
		}
		n = stp_chan_take(kbuf, room);
		if (!n)		/* held back for a hit still printing on another CPU */
			usleep_range(20, 100);
	}
	if (n > 0 && copy_to_user(ubuf, kbuf, n))
		n = -EFAULT;
	kvfree(kbuf);
	return n;
out:
	kvfree(kbuf);
	return ret;
}

static __poll_t stp_output_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &stp_chan_wait, wait);
	return stp_output_ready() ? EPOLLIN | EPOLLRDNORM : 0;
}

static const struct proc_ops stp_output_ops = {
	.proc_read = stp_output_read,
	.proc_poll = stp_output_poll,
	.proc_lseek = noop_llseek,
};

static const char *const stp_state_names[] = {
	[STP_STARTING] = "starting",
	[STP_RUNNING] = "running",
	[STP_STOPPING] = "stopping",
	[STP_STOPPED] = "stopped",
};

static ssize_t stp_control_read(struct file *file, char __user *ubuf,
				size_t count, loff_t *ppos)
{
	char buf[256];
	int len;

	len = scnprintf(buf, sizeof(buf),
			"state=%s exit=%d errors=%d suppressed=%d skipped=%d skipped_locks=%d dropped_msgs=%lld dropped_bytes=%lld\n",
			stp_state_names[atomic_read(&stp_state)],
			atomic_read(&stp_exit_requested),
			atomic_read(&stp_errors), STP_SUPPRESS_ERRORS, atomic_read(&stp_skipped),
			atomic_read(&stp_skipped_locks),
			(long long)atomic64_read(&stp_chan.dropped_msgs),
			(long long)atomic64_read(&stp_chan.dropped_bytes));
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static ssize_t stp_control_write(struct file *file, const char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	char cmd[16] = "";

	if (copy_from_user(cmd, ubuf, min(count, sizeof(cmd) - 1)))
		return -EFAULT;
	if (strncmp(cmd, "stop", 4))
		return -EINVAL;
	stp_request_exit();
	stp_stop();
	return count;
}

static const struct proc_ops stp_control_ops = {
	.proc_read = stp_control_read,
	.proc_write = stp_control_write,
	.proc_lseek = noop_llseek,
};

static int stp_control_init(void)
{
	stp_proc_dir = proc_mkdir("stapgen_" KBUILD_MODNAME, NULL);
	if (!stp_proc_dir)
		return -ENOMEM;
	if (!proc_create("output", 0400, stp_proc_dir, &stp_output_ops) ||
	    !proc_create("control", 0600, stp_proc_dir, &stp_control_ops)) {
		proc_remove(stp_proc_dir);
		return -ENOMEM;
	}
	timer_setup(&stp_housekeeping, stp_housekeeping_fn, 0);
	mod_timer(&stp_housekeeping,
		  jiffies + msecs_to_jiffies(STP_HOUSEKEEPING_MS));
	return 0;
}

static void stp_control_exit(void)
{
	timer_shutdown_sync(&stp_housekeeping);
	cancel_work_sync(&stp_stop_work);
	stp_stop();
	proc_remove(stp_proc_dir);
}
