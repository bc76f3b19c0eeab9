/bin/dd if=/dev/vda of=/dev/null bs=4096 count=4 iflag=direct status=none; /bin/dd if=/dev/zero of=/dev/vda bs=4096 count=2 seek=8 oflag=direct status=none; true
