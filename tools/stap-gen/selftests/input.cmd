d=$(echo /proc/stapgen_*); for c in h i; do printf $c > $d/__stdin; done; echo > $d/__stdin; printf o > $d/__stdin; printf k > $d/__stdin; echo > $d/__stdin
