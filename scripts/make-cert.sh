#!/bin/sh
# A self-signed certificate for the example configuration, made once (an existing one is kept).
#   scripts/make-cert.sh DIR [CN]
set -eu
dir=$1
cn=${2:-mx1.example.test}
[ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && exit 0
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 -subj "/CN=$cn" \
	-addext "subjectAltName=DNS:$cn,DNS:localhost,IP:127.0.0.1,IP:::1" \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 0644 "$dir/cert.pem"
echo "made a self-signed certificate for $cn in $dir"
