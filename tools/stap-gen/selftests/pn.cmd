mkdir /tmp/pn; rmdir /tmp/pn
