cd /proc; cat version >/dev/null; cat cmdline >/dev/null; cat uptime >/dev/null; cat stat >/dev/null; true
