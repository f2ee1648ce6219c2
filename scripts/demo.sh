#!/bin/sh
# `make demo`: what originmail can show today. A real HAProxy on loopback forwards a client's
# connection with send-proxy (v1) and send-proxy-v2 (unique-id, CRC32C, and the SSL TLV from a TLS
# frontend); `originctl proxy-decode` shows who the client really was.
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
exec env BUILD="$BUILD" python3 scripts/demo_proxy.py
