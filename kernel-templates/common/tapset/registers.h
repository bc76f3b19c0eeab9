/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The registers tapset's C: the probe's registers by name, and function
 * arguments by number as the x86-64 calling convention passes them.
 */

#include <linux/ptrace.h>
#include "tapset/syscalls.h"

#ifndef CONFIG_X86_64
#error "stap-gen: the registers tapset knows the x86-64 registers only"
#endif

struct stp_register {
	const char *name;
	unsigned short offset;	/* in struct pt_regs */
	unsigned char size;	/* bytes */
	unsigned char shift;	/* bits: ah, bh, ch, dh */
};

#define STP_REG(name, member, size, shift) \
	{ name, offsetof(struct pt_regs, member), size, shift }

static const struct stp_register stp_registers[] = {
	STP_REG("rax", ax, 8, 0), STP_REG("rbx", bx, 8, 0), STP_REG("rcx", cx, 8, 0),
	STP_REG("rdx", dx, 8, 0), STP_REG("rsi", si, 8, 0), STP_REG("rdi", di, 8, 0),
	STP_REG("rbp", bp, 8, 0), STP_REG("rsp", sp, 8, 0), STP_REG("rip", ip, 8, 0),
	STP_REG("r8", r8, 8, 0), STP_REG("r9", r9, 8, 0), STP_REG("r10", r10, 8, 0),
	STP_REG("r11", r11, 8, 0), STP_REG("r12", r12, 8, 0), STP_REG("r13", r13, 8, 0),
	STP_REG("r14", r14, 8, 0), STP_REG("r15", r15, 8, 0),
	STP_REG("orig_rax", orig_ax, 8, 0), STP_REG("xcs", cs, 8, 0),
	STP_REG("eflags", flags, 8, 0), STP_REG("xss", ss, 8, 0),
	STP_REG("eax", ax, 4, 0), STP_REG("ebx", bx, 4, 0), STP_REG("ecx", cx, 4, 0),
	STP_REG("edx", dx, 4, 0), STP_REG("esi", si, 4, 0), STP_REG("edi", di, 4, 0),
	STP_REG("ebp", bp, 4, 0), STP_REG("esp", sp, 4, 0), STP_REG("eip", ip, 4, 0),
	STP_REG("orig_eax", orig_ax, 4, 0),
	STP_REG("ax", ax, 2, 0), STP_REG("bx", bx, 2, 0), STP_REG("cx", cx, 2, 0),
	STP_REG("dx", dx, 2, 0), STP_REG("si", si, 2, 0), STP_REG("di", di, 2, 0),
	STP_REG("bp", bp, 2, 0), STP_REG("sp", sp, 2, 0), STP_REG("ip", ip, 2, 0),
	STP_REG("orig_ax", orig_ax, 2, 0), STP_REG("cs", cs, 2, 0),
	STP_REG("flags", flags, 2, 0), STP_REG("ss", ss, 2, 0),
	STP_REG("al", ax, 1, 0), STP_REG("bl", bx, 1, 0), STP_REG("cl", cx, 1, 0),
	STP_REG("dl", dx, 1, 0), STP_REG("ah", ax, 1, 8), STP_REG("bh", bx, 1, 8),
	STP_REG("ch", cx, 1, 8), STP_REG("dh", dx, 1, 8),
};

static struct pt_regs *stp_probe_regs(struct stp_context *c)
{
	if (!c->regs)
		stp_error(c, "cannot access CPU registers in this context");
	return c->regs;
}

/* probing_32bit_app(): in user mode, in a 32-bit (compat) process. */
static __maybe_unused s64 stp_probing_32bit_app(struct stp_context *c)
{
	return c->regs && user_mode(c->regs) && !user_64bit_mode(c->regs);
}

/* register(name), u_register(name): sign- or zero-extended from its size. */
static __maybe_unused s64 stp_register(struct stp_context *c, const char *name, bool is_signed)
{
	struct pt_regs *regs = stp_probe_regs(c);
	size_t i;

	if (!regs)
		return 0;
	for (i = 0; i < ARRAY_SIZE(stp_registers); i++) {
		const struct stp_register *r = &stp_registers[i];
		u64 v;

		if (strcmp(r->name, name))
			continue;
		if (r->offset == offsetof(struct pt_regs, sp))
			v = kernel_stack_pointer(regs);
		else
			v = regs_get_register(regs, r->offset);
		return stp_trunc(v >> r->shift, r->size, is_signed);
	}
	snprintf(c->error_buf, sizeof(c->error_buf), "unknown register: %s", name);
	stp_error(c, c->error_buf);
	return 0;
}

/*
 * Argument @n (from 1) of the probed function, at its entry: rdi, rsi,
 * rdx, rcx, r8, r9, then the stack above the return address (0 when
 * that is off the stack); cut to @size bytes, sign- or zero-extended.
 * In a syscall alias (syscall.NAME, nd_syscall.NAME) it is the syscall's
 * argument, from the user registers it was entered with, as in SystemTap:
 * the probed wrapper's only argument is a pointer to those.
 */
static __maybe_unused s64 stp_arg(struct stp_context *c, s64 n, int size, bool is_signed)
{
	struct pt_regs *regs = stp_probe_regs(c);
	u64 v;

	if (!regs)
		return 0;
	if (n < 1 || n > (c->probe->syscall_args ? 6 : 32)) {
		snprintf(c->error_buf, sizeof(c->error_buf), "cannot read argument %lld", n);
		stp_error(c, c->error_buf);
		return 0;
	}
	if (c->probe->syscall_args)
		v = stp_syscall_arg(c, n - 1);		/* tapset/syscalls.h */
	else
		/* the kernel's accessor: past the sixth, a stack slot it checks is on the stack */
		v = regs_get_kernel_argument(regs, n - 1);
	return stp_trunc(v, size, is_signed);
}

/* returnval(): rax, where x86-64 functions return their value. */
static __maybe_unused s64 stp_returnval(struct stp_context *c)
{
	struct pt_regs *regs = stp_probe_regs(c);

	return regs ? regs_return_value(regs) : 0;
}
