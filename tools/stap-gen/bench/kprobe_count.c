// SPDX-License-Identifier: GPL-2.0
/*
 * The baseline of the probe-overhead benchmark: the least a hand-written
 * module needs to count the hits of one function with a kprobe.
 */
#include <linux/atomic.h>
#include <linux/kprobes.h>
#include <linux/module.h>

static char *func = "vfs_read";
module_param(func, charp, 0444);

static atomic_long_t hits = ATOMIC_LONG_INIT(0);

static int count_hit(struct kprobe *kp, struct pt_regs *regs)
{
	atomic_long_inc(&hits);
	return 0;
}

static struct kprobe kp = { .pre_handler = count_hit };

static int __init kprobe_count_init(void)
{
	kp.symbol_name = func;
	return register_kprobe(&kp);
}

static void __exit kprobe_count_exit(void)
{
	unregister_kprobe(&kp);
	pr_info("kprobe_count: %s %ld\n", func, atomic_long_read(&hits));
}

module_init(kprobe_count_init);
module_exit(kprobe_count_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stap-gen benchmark baseline: count one function's hits");
