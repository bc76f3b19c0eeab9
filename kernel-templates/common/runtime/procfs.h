/* SPDX-License-Identifier: GPL-2.0 */
/*
 * $value in procfs("NAME").read/.write probes: the open file's buffer,
 * which the probe family (probes/procfs.h.j2) hands the handler.  It holds
 * up to the file's maxsize bytes: `$value .= s` appends in place, so a
 * handler can build more than one string (MAXSTRINGLEN) of text.
 */

struct stp_procfs_buf {
	char *text;
	size_t size;		/* what text can hold, its NUL included */
};

static __maybe_unused const char *stp_procfs_value(struct stp_context *c)
{
	const struct stp_procfs_buf *b = c->family;

	return b ? b->text : "";
}

/* Copy n bytes of v to @at in b's text (v may lie in the text itself). */
static void stp_procfs_put(struct stp_procfs_buf *b, size_t at, const char *v)
{
	size_t n = strnlen(v, b->size - 1 - at);

	memmove(b->text + at, v, n);
	b->text[at + n] = '\0';
}

static __maybe_unused void stp_procfs_set_value(struct stp_context *c, const char *v)
{
	struct stp_procfs_buf *b = c->family;

	if (b)
		stp_procfs_put(b, 0, v);
}

static __maybe_unused void stp_procfs_append_value(struct stp_context *c, const char *v)
{
	struct stp_procfs_buf *b = c->family;

	if (b)
		stp_procfs_put(b, strnlen(b->text, b->size - 1), v);
}
