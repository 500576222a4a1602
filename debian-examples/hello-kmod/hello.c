// SPDX-License-Identifier: GPL-2.0-only
/*
 * hello: an out-of-tree kernel module that says hello when it is loaded,
 * the example of a vendor module that mksigned signs as linux-module.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init hello_init(void)
{
	pr_info("hello-kmod: hello, world\n");
	return 0;
}

static void __exit hello_exit(void)
{
	pr_info("hello-kmod: goodbye\n");
}

module_init(hello_init);
module_exit(hello_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("mksigned examples <examples@mksigned.invalid>");
MODULE_DESCRIPTION("Says hello when loaded: the mksigned linux-module example");
