rm -rf /tmp/stp-sysmkdir; mkdir -m 750 /tmp/stp-sysmkdir; mkdir /tmp/stp-sysmkdir 2>/dev/null; rmdir /tmp/stp-sysmkdir
