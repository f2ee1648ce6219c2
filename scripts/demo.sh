#!/bin/sh
# `make demo`: the seed's flow without Docker, on hosts made of network namespaces (scripts/topology.sh):
# a client's HELO through HAProxy answered with the client's own address, implicit TLS, load balancing over
# two instances, the proxy-only policy; then the PROXY headers HAProxy really sends, decoded by originctl.
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
export BUILD
python3 scripts/demo_topology.py || exit 1
echo
echo "==== the PROXY headers themselves (HAProxy on loopback -> originctl proxy-decode)"
exec python3 scripts/demo_proxy.py
