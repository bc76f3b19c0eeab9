/* SPDX-License-Identifier: GPL-2.0 */
/*
 * $value in procfs("NAME").read/.write probes: the open file's buffer,
 * which the probe family (probes/procfs.h.j2) hands the handler.
 */

static __maybe_unused const char *stp_procfs_value(struct stp_context *c)
{
	return c->family ? (const char *)c->family : "";
}

static __maybe_unused void stp_procfs_set_value(struct stp_context *c, const char *v)
{
	if (c->family)
		strscpy(c->family, v, MAXSTRINGLEN);
}
