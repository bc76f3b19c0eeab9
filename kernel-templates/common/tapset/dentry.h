/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dentry tapset's C: a dentry's name and the names up to its
 * filesystem's root, every pointer and name read without faulting.  No
 * dentry lock is taken (a probe may hit with one held): a rename running
 * meanwhile may give a mix of the old and new names, never a fault.
 */

#include <linux/dcache.h>

#define stp_dentry_ptr(d) ((struct dentry *)(unsigned long)(d))
#define stp_dentry_member(c, d, member)						\
	((typeof(stp_dentry_ptr(0)->member))					\
	 stp_deref((c), (u64)(unsigned long)&stp_dentry_ptr(d)->member,		\
		   sizeof(stp_dentry_ptr(0)->member), 0))

/* The name of the dentry at @d into @buf (at most @size bytes with its NUL). */
static int stp_dentry_name(struct stp_context *c, char *buf, size_t size, u64 d)
{
	const unsigned char *name = stp_dentry_member(c, d, d_name.name);
	u32 len = stp_dentry_member(c, d, d_name.len);

	buf[0] = '\0';
	if (c->last_error)
		return -EFAULT;
	len = min_t(u32, len, size - 1);
	if (copy_from_kernel_nofault(buf, name, len)) {
		stp_read_fault(c, "kernel", (u64)(unsigned long)name);
		buf[0] = '\0';
		return -EFAULT;
	}
	buf[len] = '\0';
	return 0;
}

/* "usr/bin/ls": the names from under the root down to @d. */
static __maybe_unused const char *stp_reverse_path_walk(struct stp_context *c, char *buf, u64 d)
{
	size_t o = MAXSTRINGLEN - 1;	/* the path is built from the end of buf */
	int depth;

	buf[o] = '\0';
	for (depth = 0; depth < 256; depth++) {
		u64 parent = (u64)(unsigned long)stp_dentry_member(c, d, d_parent);
		const unsigned char *name = stp_dentry_member(c, d, d_name.name);
		u32 len = stp_dentry_member(c, d, d_name.len);
		size_t slash = buf[o] ? 1 : 0;

		if (c->last_error || parent == d)	/* the root: its name is not shown */
			break;
		if (len + slash > o)
			break;				/* as much as a string holds */
		if (slash)
			buf[--o] = '/';
		o -= len;
		if (copy_from_kernel_nofault(buf + o, name, len)) {
			stp_read_fault(c, "kernel", (u64)(unsigned long)name);
			o = MAXSTRINGLEN - 1;
			break;
		}
		d = parent;
	}
	memmove(buf, buf + o, MAXSTRINGLEN - o);
	return buf;
}
