// SPDX-License-Identifier: GPL-2.0
/*
 * A workload whose every system call the tests know: for each PATH FLAGS
 * pair it opens PATH with FLAGS, reads one byte from it when the open
 * worked, and reports what it did on stdout, so a probe's view of the
 * same calls can be compared with the workload's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		int flags = (int)strtol(argv[i + 1], NULL, 0);
		int fd = open(argv[i], flags, 0600);
		char c;

		printf("workload open %s %#x %d\n", argv[i], flags, fd < 0 ? -errno : fd);
		if (fd >= 0) {
			printf("workload read %s %zd\n", argv[i], read(fd, &c, 1));
			close(fd);
		}
		fflush(stdout);
	}
	return 0;
}
