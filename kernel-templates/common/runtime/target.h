/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading the probed code's state: registers by DWARF number, fault-safe
 * reads of kernel and user memory, strings.  The translator turns each
 * target expression ($var->member, @cast, ...) into calls to these, with
 * offsets and sizes taken from the tree's DWARF.  A bad address becomes a
 * script error (or the default value the script gave), never an oops:
 * every read goes through copy_from_kernel_nofault() or
 * copy_from_user_nofault(), and every guru-mode write through
 * __put_kernel_nofault().
 */

#ifndef CONFIG_X86_64
#error "stap-gen: kernel-templates has no DWARF register map for this architecture"
#endif

/* pt_regs offsets of the x86-64 psABI's DWARF registers 0-16 */
static const unsigned short stp_dwreg_offset[] = {
	offsetof(struct pt_regs, ax), offsetof(struct pt_regs, dx),
	offsetof(struct pt_regs, cx), offsetof(struct pt_regs, bx),
	offsetof(struct pt_regs, si), offsetof(struct pt_regs, di),
	offsetof(struct pt_regs, bp), offsetof(struct pt_regs, sp),
	offsetof(struct pt_regs, r8), offsetof(struct pt_regs, r9),
	offsetof(struct pt_regs, r10), offsetof(struct pt_regs, r11),
	offsetof(struct pt_regs, r12), offsetof(struct pt_regs, r13),
	offsetof(struct pt_regs, r14), offsetof(struct pt_regs, r15),
	offsetof(struct pt_regs, ip),
};

/* DWARF register @regno at the probe. */
static __maybe_unused u64 stp_dwreg(struct stp_context *c, int regno)
{
	struct pt_regs *r = c->regs;

	if (unlikely(!r)) {
		stp_error(c, "target variables have no registers in this probe");
		return 0;
	}
	if (regno == 7)
		return kernel_stack_pointer(r);
	if (regno >= 0 && regno < ARRAY_SIZE(stp_dwreg_offset))
		return regs_get_register(r, stp_dwreg_offset[regno]);
	stp_error(c, "a DWARF register this runtime cannot read");
	return 0;
}

static __maybe_unused s64 stp_return_value(struct stp_context *c)
{
	if (unlikely(!c->regs)) {
		stp_error(c, "$return has no registers in this probe");
		return 0;
	}
	return regs_return_value(c->regs);
}

/*
 * Guru mode (-g) writes: $var = v where $var is in a register of the
 * probe, $return = v in a .return probe, $p->member = v in memory.  The
 * handler's saved registers are what the probed code resumes with.
 */
static __maybe_unused void stp_set_dwreg(struct stp_context *c, int regno, u64 v)
{
	struct pt_regs *r = c->regs;

	if (unlikely(!r) || regno == 7 || regno < 0 || regno >= ARRAY_SIZE(stp_dwreg_offset) - 1) {
		stp_error(c, "cannot write this register of the probed code");
		return;
	}
	*(unsigned long *)((char *)r + stp_dwreg_offset[regno]) = v;
}

static __maybe_unused void stp_set_return_value(struct stp_context *c, u64 v)
{
	if (unlikely(!c->regs)) {
		stp_error(c, "$return has no registers in this probe");
		return;
	}
	regs_set_return_value(c->regs, v);
}

static __maybe_unused void stp_poke(struct stp_context *c, u64 addr, int size, u64 v)
{
	void *dst = (void *)(unsigned long)addr;
	u8 b = v;
	u16 h = v;
	u32 w = v;

	pagefault_disable();
	if (size == 1)
		__put_kernel_nofault(dst, &b, u8, fault);
	else if (size == 2)
		__put_kernel_nofault(dst, &h, u16, fault);
	else if (size == 4)
		__put_kernel_nofault(dst, &w, u32, fault);
	else
		__put_kernel_nofault(dst, &v, u64, fault);
	pagefault_enable();
	return;
fault:
	pagefault_enable();
	snprintf(c->error_buf, sizeof(c->error_buf),
		 "kernel write fault at 0x%llx", (unsigned long long)addr);
	stp_error(c, c->error_buf);
}

/* @v cut to @size bytes, sign- or zero-extended. */
static __always_inline __maybe_unused u64 stp_trunc(u64 v, int size, int is_signed)
{
	if (size == 1)
		return is_signed ? (u64)(s64)(s8)v : (u8)v;
	if (size == 2)
		return is_signed ? (u64)(s64)(s16)v : (u16)v;
	if (size == 4)
		return is_signed ? (u64)(s64)(s32)v : (u32)v;
	return v;
}

static void stp_read_fault(struct stp_context *c, const char *what, u64 addr)
{
	if (!c->last_error) {
		snprintf(c->error_buf, sizeof(c->error_buf),
			 "%s read fault at 0x%llx", what, (unsigned long long)addr);
		stp_error(c, c->error_buf);
	}
}

/* @size bytes (1..8) at kernel address @addr, little-endian. */
static __maybe_unused u64 stp_deref(struct stp_context *c, u64 addr, int size, int is_signed)
{
	u64 v = 0;

	if (unlikely(c->last_error))
		return 0;
	if (size < 1 || size > 8 ||
	    copy_from_kernel_nofault(&v, (const void *)(unsigned long)addr, size)) {
		stp_read_fault(c, "kernel", addr);
		return 0;
	}
	return stp_trunc(le64_to_cpu(v), size, is_signed);
}

/* A bitfield of @bit_size bits, @bit_off bits into the bytes at @addr. */
static __maybe_unused u64 stp_bitfield(struct stp_context *c, u64 addr, int bit_off,
				       int bit_size, int is_signed)
{
	int bytes = (bit_off + bit_size + 7) / 8;
	u64 v;

	if (bytes > 8) {
		stp_error(c, "a bitfield wider than 64 bits");
		return 0;
	}
	v = stp_deref(c, addr, bytes, 0) >> bit_off;
	if (bit_size < 64)
		v &= (1ULL << bit_size) - 1;
	if (is_signed && bit_size < 64 && (v & (1ULL << (bit_size - 1))))
		v |= ~0ULL << bit_size;
	return v;
}

/*
 * Copy a NUL-terminated string of at most @maxlen - 1 bytes into @buf, a
 * page at a time so no read crosses into a page the string does not use.
 * Returns 0, or -EFAULT with @buf empty.
 */
static int stp_copy_string(char *buf, u64 addr, long maxlen, bool user)
{
	long i = 0;

	/*
	 * A pointer below TASK_SIZE is the current task's: the probed code
	 * reads such a string with copy_from_user (do_sys_openat2's filename
	 * is a __user pointer), so kernel_string() does the same.
	 */
	if (addr < TASK_SIZE)
		user = true;

	if (maxlen > MAXSTRINGLEN)
		maxlen = MAXSTRINGLEN;
	while (i < maxlen - 1) {
		u64 at = addr + i;
		size_t chunk = min_t(size_t, maxlen - 1 - i, PAGE_SIZE - offset_in_page(at));
		long err = user ?
			copy_from_user_nofault(buf + i, (const void __user *)(unsigned long)at, chunk) :
			copy_from_kernel_nofault(buf + i, (const void *)(unsigned long)at, chunk);

		if (err) {
			buf[0] = '\0';
			return -EFAULT;
		}
		if (strnlen(buf + i, chunk) < chunk)
			return 0;
		i += chunk;
	}
	buf[i] = '\0';
	return 0;
}

static __maybe_unused const char *stp_string_at(struct stp_context *c, char *buf, u64 addr,
						const char *dflt, long maxlen, bool user)
{
	if (unlikely(c->last_error)) {
		buf[0] = '\0';
		return buf;
	}
	if (!stp_copy_string(buf, addr, maxlen, user))
		return buf;
	if (dflt)
		return stp_strset(buf, dflt);
	stp_read_fault(c, user ? "user string" : "kernel string", addr);
	return buf;
}

static __maybe_unused const char *stp_kernel_string(struct stp_context *c, char *buf, u64 addr,
						    const char *dflt, long maxlen)
{
	return stp_string_at(c, buf, addr, dflt, maxlen, false);
}

static __maybe_unused const char *stp_user_string(struct stp_context *c, char *buf, u64 addr,
						  const char *dflt, long maxlen)
{
	return stp_string_at(c, buf, addr, dflt, maxlen, true);
}

/* kernel_string_n(addr, n), user_string_n(addr, n): at most n bytes */
static __maybe_unused const char *stp_kernel_string_n(struct stp_context *c, char *buf, u64 addr,
						      s64 n)
{
	return stp_string_at(c, buf, addr, NULL, clamp_t(s64, n, 0, MAXSTRINGLEN - 1) + 1, false);
}

static __maybe_unused const char *stp_user_string_n(struct stp_context *c, char *buf, u64 addr,
						    s64 n)
{
	return stp_string_at(c, buf, addr, NULL, clamp_t(s64, n, 0, MAXSTRINGLEN - 1) + 1, true);
}

/* "text" for pretty-printing ($$parms$); an unreadable pointer as 0x... */
static __maybe_unused const char *stp_quoted_string(struct stp_context *c, char *buf, u64 addr)
{
	size_t n;

	if (stp_copy_string(buf + 1, addr, MAXSTRINGLEN - 2, false)) {
		snprintf(buf, MAXSTRINGLEN, "0x%llx", (unsigned long long)addr);
		return buf;
	}
	buf[0] = '"';
	n = strlen(buf);
	buf[n] = '"';
	buf[n + 1] = '\0';
	return buf;
}
