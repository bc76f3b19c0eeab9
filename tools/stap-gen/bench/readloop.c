// SPDX-License-Identifier: GPL-2.0
/*
 * The probe-overhead benchmark's workload: N one-byte reads of /dev/zero,
 * each one call of vfs_read; prints the time they took.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long i, n = argc > 1 ? strtol(argv[1], NULL, 0) : 100000;
	struct timespec a, b;
	int fd = open("/dev/zero", O_RDONLY);
	char c;

	if (fd < 0) {
		perror("/dev/zero");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		if (read(fd, &c, 1) != 1) {
			perror("read");
			return 1;
		}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("readloop %ld %lld\n", n,
	       (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return 0;
}
