#!/usr/bin/env bash
# Installs the Debian packages the packet lab needs, and nothing when they
# are all there already (no apt-get update either):
#   iproute2   ip netns exec, which starts kube-proxy in a node's namespace
#   iptables   kube-proxy's iptables mode (iptables-restore, iptables-save)
#   nftables   the fake VPC's data plane (nft), and kube-proxy's nftables mode
#   conntrack  inspecting and flushing flows in the lab's namespaces
# The lab needs root anyway; without it this script says so and does nothing
# (the lab's tests then skip).
set -o errexit -o nounset -o pipefail

PACKAGES=(iproute2 iptables nftables conntrack)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "lab packages: ${PACKAGES[*]} already installed"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "lab packages: ${missing[*]} missing, and installing them needs root (the lab's tests skip without root)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "lab packages: ${missing[*]} missing and no apt-get to install them with" >&2
  exit 1
fi
echo "lab packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
