sh -c 'cat /proc/version >/dev/null; true'
