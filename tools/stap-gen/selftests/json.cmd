d=$(echo /proc/stapgen_*); cat $d/metadata.json > $d/echo; cat $d/data.json > $d/echo; cat $d/data.json > $d/echo
