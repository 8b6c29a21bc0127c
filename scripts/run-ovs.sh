#!/usr/bin/env bash
# `make run BACKEND=openvswitch`: starts an isolated Open vSwitch (userspace datapath) in a network
# namespace of its own with veth NICs eth0..eth5 (the demo inventory's MACs), runs the daemon
# against it, and tears the sandbox down when the daemon stops. Root only.
set -euo pipefail
cd "$(dirname "$0")/.."
name="run$$"
nics=()
for i in 0 1 2 3 4 5; do nics+=(--nic "eth$i=02:00:5e:00:53:1$i"); done
desc=$(node dist/scripts/ovs-sandbox.js up "$name" "${nics[@]}")
dir=$(node -e 'console.log(JSON.parse(process.argv[1]).dir)' "$desc")
netns=$(node -e 'console.log(JSON.parse(process.argv[1]).netns)' "$desc")
trap 'node dist/scripts/ovs-sandbox.js down "$name"' EXIT
echo "OVS sandbox $name: netns $netns, state in $dir"
echo "  inspect: node dist/scripts/ovs-sandbox.js exec $name -- ovs-vsctl show"
MALLOC_ARENA_MAX=1 node --max-semi-space-size=8 dist/src/main.js --backend openvswitch --ovs-sandbox "$dir" "$@"
