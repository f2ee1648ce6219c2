#!/bin/sh
# `make demo`: the seed's flow without Docker. originmaild behind a real HAProxy on loopback answers a
# client's HELO with the client's own address, over plain SMTP and over implicit TLS; then the PROXY
# headers HAProxy really sends, decoded by originctl.
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
export BUILD
python3 scripts/demo_smtp.py || exit 1
echo
echo "==== the PROXY headers themselves"
exec python3 scripts/demo_proxy.py
