/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Script built-in functions and helpers the translated code calls.
 * Each one is safe in any probe context: no sleeping, no allocation.
 */

/* printf: append to this hit's output, flushing first if it is full. */
static __printf(2, 3) __maybe_unused void stp_printf(struct stp_context *c, const char *fmt, ...)
{
	va_list args;
	size_t room = sizeof(c->out) - c->out_len;
	int n;

	if (unlikely(c->last_error))	/* an argument failed: print nothing */
		return;
	stp_out_start(c);
	va_start(args, fmt);
	n = vsnprintf(c->out + c->out_len, room, fmt, args);
	va_end(args);
	if (n >= room && c->out_len) {
		stp_chan_write_at(STP_REC_STDOUT, c->out, c->out_len, c->out_seq);
		c->out_len = 0;
		c->out_seq = stp_next_seq();
		room = sizeof(c->out);
		va_start(args, fmt);
		n = vsnprintf(c->out, room, fmt, args);
		va_end(args);
	}
	if (unlikely(n >= room)) {
		/* what is printed is whole or not at all: never a cut line */
		c->out[c->out_len] = '\0';
		/* (STP_PRINTBUF bytes; -D STP_PRINTBUF=N raises it) */
		stp_error(c, "string too long: one printf's output exceeds the print buffer");
		return;
	}
	c->out_len += n;
}

/* printf's %Nb: the value's N low bytes, little-endian, as they are. */
static __maybe_unused void stp_printb(struct stp_context *c, u64 value, size_t n)
{
	if (unlikely(c->last_error))
		return;
	stp_out_start(c);
	if (c->out_len + n > sizeof(c->out) - 1) {
		stp_chan_write_at(STP_REC_STDOUT, c->out, c->out_len, c->out_seq);
		c->out_len = 0;
		c->out_seq = stp_next_seq();
	}
	while (n--) {
		c->out[c->out_len++] = value & 0xff;
		value >>= 8;
	}
}

static __maybe_unused const char *stp_execname(char *buf)
{
	/* current->comm is always NUL-terminated within TASK_COMM_LEN */
	strscpy(buf, current->comm, MAXSTRINGLEN);
	return buf;
}

static __maybe_unused s64 stp_pid(void)
{
	return task_tgid_nr(current);
}

static __maybe_unused s64 stp_tid(void)
{
	return task_pid_nr(current);
}

static __maybe_unused s64 stp_cpu(void)
{
	return smp_processor_id();
}

/* task_current(): the task as a number, for @cast and task_* functions */
static __maybe_unused s64 stp_task_current(void)
{
	return (s64)(unsigned long)current;
}

static __maybe_unused s64 stp_ppid(void)
{
	return task_ppid_nr(current);
}

/* uid() and friends: as the initial user namespace sees them */
static __maybe_unused s64 stp_uid(void)
{
	return from_kuid_munged(&init_user_ns, current_uid());
}

static __maybe_unused s64 stp_euid(void)
{
	return from_kuid_munged(&init_user_ns, current_euid());
}

static __maybe_unused s64 stp_gid(void)
{
	return from_kgid_munged(&init_user_ns, current_gid());
}

static __maybe_unused s64 stp_egid(void)
{
	return from_kgid_munged(&init_user_ns, current_egid());
}

/* gettimeofday_*(): the real-time clock, safe in any context (NMI too) */
static __maybe_unused s64 stp_gettimeofday_ns(void)
{
	return ktime_get_real_fast_ns();
}

static __maybe_unused s64 stp_gettimeofday_us(void)
{
	return div_u64(ktime_get_real_fast_ns(), NSEC_PER_USEC);
}

static __maybe_unused s64 stp_gettimeofday_ms(void)
{
	return div_u64(ktime_get_real_fast_ns(), NSEC_PER_MSEC);
}

static __maybe_unused s64 stp_gettimeofday_s(void)
{
	return div_u64(ktime_get_real_fast_ns(), NSEC_PER_SEC);
}

static __maybe_unused s64 stp_jiffies(void)
{
	return get_jiffies_64();
}

/* local_clock_*(): this CPU's clock, cheap, not comparable across CPUs */
static __maybe_unused s64 stp_local_clock_ns(void)
{
	return local_clock();
}

static __maybe_unused s64 stp_local_clock_us(void)
{
	return div_u64(local_clock(), NSEC_PER_USEC);
}

static __maybe_unused s64 stp_get_cycles(void)
{
	return get_cycles();
}

static __maybe_unused s64 stp_hz(void)
{
	return HZ;
}

/* The string helpers the translated code calls. */
static __maybe_unused void stp_strcpy(char *dst, const char *src, size_t size)
{
	strscpy(dst, src, size);
}

static __maybe_unused int stp_strcmp(const char *a, const char *b)
{
	return strcmp(a, b);
}

static __maybe_unused s64 stp_strlen(const char *s)
{
	return strlen(s);
}

static __maybe_unused s64 stp_isinstr(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

static __maybe_unused s64 stp_div(struct stp_context *c, s64 a, s64 b, bool mod)
{
	if (unlikely(b == 0)) {
		stp_error(c, "division by zero");
		return 0;
	}
	if (unlikely(b == -1))
		return mod ? 0 : -a;
	return mod ? a % b : div64_s64(a, b);
}

/* a . b into @buf, truncated to MAXSTRINGLEN. */
static __maybe_unused const char *stp_concat(char *buf, const char *a, const char *b)
{
	size_t n = strscpy(buf, a, MAXSTRINGLEN);

	if ((ssize_t)n >= 0)
		strscpy(buf + n, b, MAXSTRINGLEN - n);
	return buf;
}

/* dst = src (truncated to MAXSTRINGLEN); dst may not overlap src. */
static __maybe_unused const char *stp_strset(char *dst, const char *src)
{
	if (dst != src)
		strscpy(dst, src, MAXSTRINGLEN);
	return dst;
}

/* sprintf(): format into @buf (MAXSTRINGLEN), truncating. */
static __printf(2, 3) __maybe_unused const char *stp_sprintf(char *buf, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vscnprintf(buf, MAXSTRINGLEN, fmt, args);
	va_end(args);
	return buf;
}

/* error(msg): a script error with the script's own message. */
static __maybe_unused int stp_error_copy(struct stp_context *c, const char *msg)
{
	if (!c->last_error) {
		strscpy(c->error_buf, msg, sizeof(c->error_buf));
		stp_error(c, c->error_buf);
	}
	return 0;
}

/* substr(s, start, length): start counts from 0, as in SystemTap. */
static __maybe_unused const char *stp_substr(char *buf, const char *s, s64 start, s64 len)
{
	size_t n = strlen(s);

	buf[0] = '\0';
	if (start < 0 || len <= 0 || start >= n)
		return buf;
	len = min_t(s64, len, n - start);
	len = min_t(s64, len, MAXSTRINGLEN - 1);
	memcpy(buf, s + start, len);
	buf[len] = '\0';
	return buf;
}

/* One byte at buf[o] as text_str() prints it; the new end (at most 4 more). */
static __maybe_unused size_t stp_text_char(char *buf, size_t o, unsigned char ch)
{
	if (ch == '\n')
		return o + scnprintf(buf + o, MAXSTRINGLEN - o, "\\n");
	if (ch == '\t')
		return o + scnprintf(buf + o, MAXSTRINGLEN - o, "\\t");
	if (ch == '"' || ch == '\\')
		return o + scnprintf(buf + o, MAXSTRINGLEN - o, "\\%c", ch);
	if (ch < 32 || ch >= 127)
		return o + scnprintf(buf + o, MAXSTRINGLEN - o, "\\%03o", ch);
	buf[o] = ch;
	return o + 1;
}

/* text_str(s): non-printable bytes as C escapes. */
static __maybe_unused const char *stp_text_str(char *buf, const char *s)
{
	size_t o = 0;

	for (; *s && o + 5 < MAXSTRINGLEN; s++)
		o = stp_text_char(buf, o, *s);
	buf[o] = '\0';
	return buf;
}

static __maybe_unused const char *stp_toupper(char *buf, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < MAXSTRINGLEN - 1; i++)
		buf[i] = toupper(s[i]);
	buf[i] = '\0';
	return buf;
}

static __maybe_unused const char *stp_tolower(char *buf, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < MAXSTRINGLEN - 1; i++)
		buf[i] = tolower(s[i]);
	buf[i] = '\0';
	return buf;
}

/* str_replace(s, find, repl): every find in s replaced (s itself if find is ""). */
static __maybe_unused const char *stp_str_replace(char *buf, const char *s, const char *find,
						  const char *repl)
{
	size_t flen = strlen(find), rlen = strlen(repl), o = 0;
	const char *hit;

	if (!flen) {
		strscpy(buf, s, MAXSTRINGLEN);
		return buf;
	}
	while ((hit = strstr(s, find)) && o + (hit - s) + rlen < MAXSTRINGLEN) {
		memcpy(buf + o, s, hit - s);
		o += hit - s;
		memcpy(buf + o, repl, rlen);
		o += rlen;
		s = hit + flen;
	}
	strscpy(buf + o, s, MAXSTRINGLEN - o);
	return buf;
}

/* stringat(s, i): the byte at index i of s. */
static __maybe_unused s64 stp_stringat(struct stp_context *c, const char *s, s64 i)
{
	if (i < 0 || i >= strlen(s)) {
		stp_error(c, "stringat: index out of range");
		return 0;
	}
	return (unsigned char)s[i];
}

/* pexecname(): the command name of the parent of the current task. */
static __maybe_unused const char *stp_pexecname(char *buf)
{
	rcu_read_lock();
	strscpy(buf, rcu_dereference(current->real_parent)->comm, MAXSTRINGLEN);
	rcu_read_unlock();
	return buf;
}

/* warn(msg): a WARNING line on the script's error stream; the script goes on. */
static __maybe_unused int stp_warn(char *buf, const char *msg)
{
	int n = scnprintf(buf, MAXSTRINGLEN, "WARNING: %s\n", msg);

	stp_chan_write(STP_REC_STDERR, buf, n);
	return 0;
}

/*
 * system(cmd): the runner starts cmd under /bin/sh once the record reaches
 * it, after what the probe printed before the call; the probe goes on.
 */
static __maybe_unused void stp_system(const char *cmd)
{
	stp_chan_write(STP_REC_SYSTEM, cmd, strlen(cmd));
}

/* strtol(s, base): the leading number of s; base 0 reads 0x and 0 prefixes. */
static __maybe_unused s64 stp_strtol(struct stp_context *c, const char *s, s64 base)
{
	bool neg = false;
	u64 v = 0;
	int d;

	if (base != 0 && (base < 2 || base > 36)) {
		stp_error(c, "strtol: base must be 0 or 2..36");
		return 0;
	}
	while (isspace(*s))
		s++;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if ((base == 0 || base == 16) && s[0] == '0' && tolower(s[1]) == 'x' &&
	    isxdigit(s[2])) {
		s += 2;
		base = 16;
	} else if (base == 0) {
		base = s[0] == '0' ? 8 : 10;
	}
	for (; *s; s++) {
		d = isdigit(*s) ? *s - '0' : isalpha(*s) ? tolower(*s) - 'a' + 10 : 99;
		if (d >= base)
			break;
		v = v * base + d;
	}
	return neg ? -(s64)v : (s64)v;
}

/* global = v, unless computing v raised a script error. */
static __maybe_unused s64 stp_set_long(struct stp_context *c, s64 *dst, s64 v)
{
	if (likely(!c->last_error))
		*dst = v;
	return *dst;
}

/* $$name in kernel.trace probes: the tracepoint's name */
static __maybe_unused const char *stp_probe_name(struct stp_context *c)
{
	return c->probe->func;
}
