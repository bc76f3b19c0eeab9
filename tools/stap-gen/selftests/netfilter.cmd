busybox ifconfig lo 127.0.0.1 up; busybox ping -c 3 -i 0.2 -W 1 127.0.0.1 >/dev/null; true
