cat /proc/version >/dev/null; echo x >/dev/null; sleep 1
