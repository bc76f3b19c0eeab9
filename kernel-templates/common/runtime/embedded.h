/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What embedded C (guru mode, %{ ... %}) sees, under SystemTap's names.
 *
 * In a function written in C, STAP_ARG_name is the argument `name` and
 * STAP_RETVALUE the return value (the translator defines both around the
 * body); CONTEXT is the probe's context, STAP_RETURN(v) returns v and
 * STAP_ERROR(fmt, ...) ends the handler with a script error.  A script's
 * C may test the kernel's version macros (linux/version.h) as SystemTap's
 * allows; the kit's own C never does: its template set says what its
 * kernel has.
 */

#include <linux/version.h>

#define CONTEXT c
#define STAP_RETURN(v)			\
	do {				\
		STAP_RETVALUE = (v);	\
		goto out;		\
	} while (0)
#define STAP_ERROR(...)						\
	do {								\
		snprintf(CONTEXT->error_buf, sizeof(CONTEXT->error_buf),	\
			 __VA_ARGS__);					\
		stp_error(CONTEXT, CONTEXT->error_buf);			\
		goto out;						\
	} while (0)
#define STAP_PRINTF(fmt, ...) stp_printf(CONTEXT, fmt, ##__VA_ARGS__)
#define STAP_VERSION(a, b) (((a) << 8) + (b))
#define STAP_COMPAT_VERSION STAP_VERSION(5, 0)
