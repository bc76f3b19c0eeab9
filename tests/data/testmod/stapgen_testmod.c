// SPDX-License-Identifier: GPL-2.0
/*
 * A module for stap-gen's tests: it exports a function whose name is also
 * a static function of vmlinux (do_dentry_open, fs/open.c), the thread's
 * do_open case.  Reading /proc/stapgen_testmod calls the module's function
 * once and prints how often it ran.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

int do_dentry_open(int n);

static int calls;

noinline int do_dentry_open(int n)
{
	calls += n;
	return calls;
}
EXPORT_SYMBOL_GPL(do_dentry_open);

static int testmod_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", do_dentry_open(1));
	return 0;
}

static int __init testmod_init(void)
{
	if (!proc_create_single("stapgen_testmod", 0444, NULL, testmod_show))
		return -ENOMEM;
	return 0;
}

static void __exit testmod_exit(void)
{
	remove_proc_entry("stapgen_testmod", NULL);
}

module_init(testmod_init);
module_exit(testmod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stap-gen test module: a module symbol that shadows a vmlinux static");
