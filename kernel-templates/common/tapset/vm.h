/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vm tapset's C: GFP flags by the names the tree's own tracepoints
 * print them with (__def_gfpflag_names in <trace/events/mmflags.h>).
 */

#ifndef STP_TAPSET_VM_H
#define STP_TAPSET_VM_H

#include <linux/gfp.h>
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

#endif
