for i in 1 2 3; do /bin/true; done; /bin/sh -c 'kill -TERM $$'; true
