dd if=/proc/version of=/dev/null bs=4096 count=1 2>/dev/null
