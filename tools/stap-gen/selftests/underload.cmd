for i in 1 2; do timeout 30 /bin/sh -c 'while [ -d /sys/module/selftest_underload ]; do read -r x < /proc/self/stat; done' & done; sleep 3; true
