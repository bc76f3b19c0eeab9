cat /proc/meminfo > /dev/null
