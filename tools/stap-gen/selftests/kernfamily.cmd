/bin/dd if=/dev/zero of=/dev/null bs=3M count=1 status=none; /bin/dd if=/dev/vda of=/dev/null bs=4096 count=8 iflag=direct status=none; sleep 1; true
