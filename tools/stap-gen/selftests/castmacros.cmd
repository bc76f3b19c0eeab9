mkdir /tmp/castmacros; mkdir /tmp/castmacros
