rm -f /tmp/stp-libfns; echo stp-libfns > /tmp/stp-libfns
