cat /proc/version >/dev/null; sleep 1
