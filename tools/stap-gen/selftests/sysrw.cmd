dd if=/dev/zero of=/dev/null bs=1000 count=3 2>/dev/null; /usr/bin/printf 'stp-hello\n' > /dev/null
