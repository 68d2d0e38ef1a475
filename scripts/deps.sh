#!/usr/bin/env bash
# Installs the Debian packages a target needs, when they are missing.
#   scripts/deps.sh test|demo|dpdk|bench|fuzz|coverage|scale
# Root installs with apt-get; anyone else gets the apt-get line to run.
set -euo pipefail

common=(make cmake g++ pkg-config libboost-dev)
# busybox: udhcpc, the demo VMs' DHCP client; python3-scapy: the demo's rogue DHCP server
live=(python3 iproute2 iputils-ping ethtool procps util-linux busybox python3-scapy)
# DPDK 22.11 (examples/nvgre-dpdk): the headers and libraries, and the drivers it uses, which
# are plugins in packages of their own (libdpdk-dev depends on these four; named so that
# --no-install-recommends can never leave one out): AF_PACKET ports (the demo), ring ports (the
# bench), TAP ports, and the ring mempool handler every mbuf pool needs.
dpdk=(libdpdk-dev librte-net-af-packet23 librte-net-ring23 librte-net-tap23 librte-mempool-ring23)
case "${1:-test}" in
  # live demo (also run by make test as root): namespaces, ping, NIC offloads off, captures
  # valgrind: memcheck over the nvgre-pcap runs; clang-tidy: the checked-in .clang-tidy
  # openvswitch-switch: the live interop test against OVS's userspace GRE (interop_ovs)
  # libdpdk-dev: nvgre-dpdk, its adapter tests, its CLI test and its live demo (as root)
  # nlohmann-json3-dev: nvgre-ovsdb and the switches' --ovsdb (the live demos' hosts take their
  # policy from an ovsdb-server cluster: openvswitch-common, which openvswitch-switch pulls in)
  test)  pkgs=("${common[@]}" clang libclang-rt-14-dev doctest-dev libpcap-dev tshark python3-scapy valgrind clang-tidy openvswitch-switch nlohmann-json3-dev "${live[@]}" "${dpdk[@]}") ;;
  demo)  pkgs=("${common[@]}" libpcap-dev tshark "${live[@]}" nlohmann-json3-dev openvswitch-common) ;;
  # make demo-dpdk and make bench-dpdk; the dpdk package adds DPDK's own tools (dpdk-testpmd, ...)
  dpdk)  pkgs=("${common[@]}" libpcap-dev tshark "${live[@]}" "${dpdk[@]}" dpdk nlohmann-json3-dev openvswitch-common) ;;
  # valgrind: callgrind and its client-request header for `make instructions`
  bench) pkgs=("${common[@]}" libbenchmark-dev libdpdk-dev python3-minimal valgrind) ;;
  fuzz)  pkgs=("${common[@]}" clang libclang-rt-14-dev nlohmann-json3-dev) ;;
  # make scale: ovsdb-server and ovsdb-tool (a Raft cluster), nlohmann-json for the agent
  scale) pkgs=("${common[@]}" libpcap-dev python3 openvswitch-common nlohmann-json3-dev) ;;
  # llvm-14: llvm-profdata and llvm-cov for the coverage of the fuzz corpora (make coverage)
  coverage) pkgs=("${common[@]}" clang libclang-rt-14-dev llvm-14 doctest-dev) ;;
  *) echo "usage: $0 test|demo|dpdk|bench|fuzz|coverage|scale" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
