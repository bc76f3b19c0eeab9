sleep 0; sleep 0; sleep 0
