/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU probe context, the reentrancy guard, script errors and the
 * module's run state.
 *
 * A handler runs with preemption disabled on one CPU and owns that CPU's
 * context: its locals, its output (flushed to the channel when the hit
 * ends) and its error.  A probe that fires while the same CPU is already
 * in a handler (an interrupt, an NMI, a probe on a function the handler
 * calls) is skipped and counted, never nested.
 */

/*
 * Record types on the output channel: the script's output, its messages, and
 * a command for the runner to start (system()).
 */
enum { STP_REC_STDOUT = 1, STP_REC_STDERR = 2, STP_REC_SYSTEM = 3 };

/* s64 slots of .return entry data one saved string takes */
#define STP_STR_SLOTS DIV_ROUND_UP(MAXSTRINGLEN, sizeof(s64))

enum stp_state {
	STP_STARTING,		/* begin probes run */
	STP_RUNNING,		/* kprobes and timers fire */
	STP_STOPPING,		/* probes unregistered, end probes run */
	STP_STOPPED,		/* output drained: the module may go */
};

struct stp_probe {
	const char *pp;		/* the probe point, as pp() prints it */
	const char *pn;		/* as the script named it, as pn() prints it */
	const char *func;	/* probefunc() */
	void (*handler)(struct stp_context *c);
	int cond;		/* probe P if (cond): its slot in stp_cond_want[]; else -1 */
	bool interruptible;	/* runs in process context: MAXACTION_INTERRUPTIBLE */
	bool syscall_args;	/* a syscall alias's: *_arg(n) are the syscall's arguments */
};

/* Where a kprobe sits in the running kernel: for backtraces. */
struct stp_where {
	unsigned long addr;		/* the probed instruction */
	unsigned long start, end;	/* the function holding it */
};

struct stp_context {
	atomic_t busy;
	const struct stp_probe *probe;
	struct pt_regs *regs;
	const char *last_stmt;	/* "script:line:col" of the running statement */
	const char *last_error;
	const char *error_stmt;	/* where last_error happened */
	unsigned long actions;
	unsigned long max_actions;
	size_t out_len;
	u64 out_seq;		/* the output's place in the run's order (stp_next_seq) */
	bool out_held;		/* this CPU's ring holds back later output for it */
	char error_buf[128];
	int nesting;		/* script function calls in progress */
	s64 *entry;		/* .return: the values saved when the function was entered */
	u64 *tp_args;		/* kernel.trace: the tracepoint's arguments */
	const struct stp_where *where;	/* kprobes: where the probe is */
	void *family;		/* what the probe's family gives its variables ($value, ...) */
	char out[STP_PRINTBUF];
	union stp_locals frames[MAXNESTING + 1];	/* [0]: the probe's */
};

static atomic_t stp_state = ATOMIC_INIT(STP_STARTING);
static atomic_t stp_exit_requested = ATOMIC_INIT(0);
static atomic_t stp_error_stop = ATOMIC_INIT(0);
static atomic_t stp_errors = ATOMIC_INIT(0);
static atomic_t stp_skipped = ATOMIC_INIT(0);
static atomic_t stp_skipped_locks = ATOMIC_INIT(0);	/* ... of them: a lock not had */
static struct stp_context **stp_contexts;

static void stp_chan_write(int type, const char *data, size_t len);
static void stp_chan_write_at(int type, const char *data, size_t len, u64 seq);
static u64 stp_chan_hold(void);
static void stp_chan_unhold(void);

/*
 * The order of the run's output: a hit takes the next number when it
 * starts to print (with the script's locks held, so hits that share a
 * global print in the order they ran), and the reader merges the CPUs'
 * records by it, never handing out a record while an older number is
 * still being written (stp_chan_hold()).
 */
static atomic64_t stp_seq = ATOMIC64_INIT(0);

static u64 stp_next_seq(void)
{
	return atomic64_inc_return(&stp_seq);
}

/* Called before output is added to an empty c->out. */
static inline void stp_out_start(struct stp_context *c)
{
	if (c->out_len)
		return;
	if (c->out_held) {
		c->out_seq = stp_next_seq();
	} else {
		c->out_seq = stp_chan_hold();
		c->out_held = true;
	}
}

static void stp_request_exit(void)
{
	atomic_set(&stp_exit_requested, 1);
}

/* Record a script error; the handler stops at its next statement. */
static void stp_error(struct stp_context *c, const char *msg)
{
	if (!c->last_error) {
		c->last_error = msg;
		c->error_stmt = c->last_stmt;
	}
}

static void stp_report_error(struct stp_context *c)
{
	int n;

	if (STP_SUPPRESS_ERRORS) {
		/* --suppress-handler-errors: counted, reported at the end only */
		atomic_inc(&stp_errors);
		return;
	}
	n = scnprintf(c->out, sizeof(c->out), "ERROR: %s near %s in %s\n",
		      c->last_error, c->error_stmt ? c->error_stmt : "?",
		      c->probe->pp);
	stp_chan_write(STP_REC_STDERR, c->out, n);
	if (atomic_inc_return(&stp_errors) > MAXERRORS) {
		atomic_set(&stp_error_stop, 1);
		stp_request_exit();
	}
}

/* Count one statement; a runaway handler becomes a script error. */
static __always_inline bool stp_action(struct stp_context *c, const char *where)
{
	if (unlikely(c->last_error))
		return false;
	c->last_stmt = where;
	if (unlikely(++c->actions > c->max_actions)) {
		stp_error(c, "MAXACTION exceeded (too many statements in one probe hit)");
		return false;
	}
	return true;
}

/* A lock, with interrupts off, in at most MAXTRYLOCK tries TRYLOCKDELAY us apart. */
static __maybe_unused bool stp_trylock(raw_spinlock_t *lock, unsigned long *flags)
{
	int i;

	for (i = 0; i < MAXTRYLOCK; i++) {
		local_irq_save(*flags);
		if (raw_spin_trylock(lock))
			return true;
		local_irq_restore(*flags);
		udelay(TRYLOCKDELAY);
	}
	return false;
}

/* A hit skipped: its CPU was busy in a handler, or (locked) a lock was not had. */
static void stp_skip_probe(bool locked)
{
	if (locked)
		atomic_inc(&stp_skipped_locks);
	/* past MAXSKIPPED the script stops, once, as with an error */
	if (atomic_inc_return(&stp_skipped) == MAXSKIPPED + 1 && !STP_SUPPRESS_ERRORS) {
		static const char msg[] = "ERROR: too many probe hits skipped (more than MAXSKIPPED)\n";

		atomic_inc(&stp_errors);
		stp_chan_write(STP_REC_STDERR, msg, sizeof(msg) - 1);
		atomic_set(&stp_error_stop, 1);
		stp_request_exit();
	}
}

static struct stp_context *stp_enter(const struct stp_probe *p, int state)
{
	struct stp_context *c;

	if (atomic_read(&stp_state) != state)
		return NULL;
	/* after exit(), as in SystemTap, no further probe handler starts */
	if (state == STP_RUNNING && atomic_read(&stp_exit_requested))
		return NULL;
	c = stp_contexts[smp_processor_id()];
	if (atomic_inc_return(&c->busy) != 1) {
		atomic_dec(&c->busy);
		stp_skip_probe(false);
		return NULL;
	}
	c->probe = p;
	c->last_stmt = NULL;
	c->last_error = NULL;
	c->actions = 0;
	c->max_actions = p->interruptible ? MAXACTION_INTERRUPTIBLE : MAXACTION;
	c->out_len = 0;
	c->out_held = false;
	c->nesting = 0;
	c->entry = NULL;
	c->where = NULL;
	c->family = NULL;
	return c;
}

static void stp_leave(struct stp_context *c)
{
	if (c->out_len)
		stp_chan_write_at(STP_REC_STDOUT, c->out, c->out_len, c->out_seq);
	c->out_len = 0;
	if (c->out_held) {
		stp_chan_unhold();	/* after the record is published */
		c->out_held = false;
	}
	if (unlikely(c->last_error))
		stp_report_error(c);
	atomic_dec(&c->busy);
}

/* Run one probe's handler on this CPU; the caller disabled preemption. */
static void stp_run_probe_at(const struct stp_probe *p, struct pt_regs *regs, int state,
			     const struct stp_where *where)
{
	struct stp_context *c = stp_enter(p, state);

	if (!c)
		return;
	c->regs = regs;
	c->where = where;
	p->handler(c);
	stp_leave(c);
}

static void stp_run_probe(const struct stp_probe *p, struct pt_regs *regs, int state)
{
	stp_run_probe_at(p, regs, state, NULL);
}

static int stp_contexts_alloc(void)
{
	unsigned int cpu;

	stp_contexts = kcalloc(nr_cpu_ids, sizeof(*stp_contexts), GFP_KERNEL);
	if (!stp_contexts)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		stp_contexts[cpu] = vzalloc(sizeof(struct stp_context));
		if (!stp_contexts[cpu])
			return -ENOMEM;
	}
	return 0;
}

static void stp_contexts_free(void)
{
	unsigned int cpu;

	if (!stp_contexts)
		return;
	for_each_possible_cpu(cpu)
		vfree(stp_contexts[cpu]);
	kfree(stp_contexts);
	stp_contexts = NULL;
}
