d=$(echo /proc/stapgen_*); cat $d/__prometheus > $d/echo
