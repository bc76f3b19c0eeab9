cat /proc/version /proc/cmdline /proc/uptime >/dev/null
