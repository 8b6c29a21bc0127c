#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real: Open vSwitch (userspace datapath in a
# network namespace), augtool, the Debian XenAPI.py client, iproute2 and ping, dhclient and dnsmasq
# (test/e2e/dhcp.test.ts) and ethtool (link speed/duplex); gcc and g++ for the
# SO_PEERCRED and heap addons (native/peercred.c, native/heap.cc); ansible (community.general xenserver modules, test/clients/
# ansible.test.ts; about 90 s to install). Needs root.
set -euo pipefail
pkgs=(openvswitch-switch augeas-tools python3-os-xenapi iproute2 iputils-ping isc-dhcp-client dnsmasq-base ethtool perl gcc g++ libc6-dev ansible)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test packages present: ${pkgs[*]}"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages (${missing[*]}); run 'make test' as root or install them" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The packaged openvswitch-switch must not start a system-wide OVS: tests start their own.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
