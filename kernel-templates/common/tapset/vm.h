/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vm tapset's C: GFP flags by the names the tree's own tracepoints
 * print them with (__def_gfpflag_names in <trace/events/mmflags.h>).
 */

#ifndef STP_TAPSET_VM_H
#define STP_TAPSET_VM_H

#include <linux/gfp.h>
#include <linux/mm.h>
#include <trace/events/mmflags.h>
#include "tapset/flags.h"

static const struct stp_flag stp_gfp_flags[] = {
	__def_gfpflag_names __def_gfpflag_names_kasan,
	{ 0, NULL }
};

static __maybe_unused const char *stp_gfp_flag_str(char *buf, unsigned long flags)
{
	buf[0] = '\0';
	if (!flags)
		strscpy(buf, "0", MAXSTRINGLEN);
	else
		stp_flags_str(buf, stp_gfp_flags, flags);
	return buf;
}

/*
 * vm_fault_contains(): whether handle_mm_fault()'s result is of kind
 * @test, as the selectors of vm.stp number them: 0 OOM, 1 SIGBUS, 2 a minor
 * fault (no error, not major), 3 major, 4 NOPAGE, 5 LOCKED, 6 any error.
 */
static __maybe_unused bool stp_vm_fault_contains(vm_fault_t value, long test)
{
	switch (test) {
	case 0:
		return value & VM_FAULT_OOM;
	case 1:
		return value & VM_FAULT_SIGBUS;
	case 2:
		return !(value & (VM_FAULT_ERROR | VM_FAULT_MAJOR));
	case 3:
		return value & VM_FAULT_MAJOR;
	case 4:
		return value & VM_FAULT_NOPAGE;
	case 5:
		return value & VM_FAULT_LOCKED;
	case 6:
		return value & VM_FAULT_ERROR;
	}
	return false;
}

/* The NUMA node of a kernel address's memory, or -1 with an error. */
static __maybe_unused long stp_addr_to_node(struct stp_context *c, unsigned long addr)
{
	if (!virt_addr_valid((void *)addr)) {
		snprintf(c->error_buf, sizeof(c->error_buf),
			 "invalid kernel virtual address 0x%lx", addr);
		stp_error(c, c->error_buf);
		return -1;
	}
	return pfn_to_nid(PHYS_PFN(__pa(addr)));
}

#endif
