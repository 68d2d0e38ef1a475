#!/usr/bin/python3
"""nvgre-dpdk's failures: every bad start — EAL, a port, the policy, the arguments — exits 1
with one clear line on stderr; and, as root in a namespace of its own, SIGUSR1 prints the
counters and SIGINT / SIGTERM stop it cleanly (counters once more, exit 0).
Usage: dpdk_cli.py NVGRE_DPDK DEMO_POLICY WORKDIR"""
import os
import subprocess
import sys

from switch_signals import check_signals

dpdk, policy, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
failures = 0
root = os.geteuid() == 0


def eal(lcores="0@0,1@0,2@1", vdevs=()):
    """EAL options: no huge pages, no PCI, no shared files, lcores on CPUs 0 and 1."""
    args = ["--no-huge", "-m", "128", "--no-pci", "--no-shconf", "--no-telemetry",
            "--file-prefix", f"nvgre-cli-{os.getpid()}", "--lcores", lcores]
    for v in vdevs:
        args += ["--vdev", v]
    return args + ["--"]


def expect(args, needle, code=1, netns=None):
    global failures
    cmd = ([ "ip", "netns", "exec", netns] if netns else []) + [dpdk] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    err = p.stderr.strip()
    ok = p.returncode == code and needle in (err if code else p.stdout) and (code == 0 or len(err.splitlines()) == 1)
    shown = ' '.join(a for a in args if a != "--")
    print(f"{'ok  ' if ok else 'FAIL'} {shown[-100:]!r}: exit {p.returncode}: {err or p.stdout.strip()}")
    failures += not ok


good = ["--policy", policy, "--host", "hv1"]
lo2 = ["net_af_packet_lo,iface=lo,qpairs=2"]
expect(["--help"], "usage: nvgre-dpdk", code=0)
expect(["--no-such-eal-option"], "EAL initialisation failed")
expect(eal() + [], "--policy, --host, --fabric and at least one --vm are required")
expect(eal() + good + ["--fabric", "x", "--vm", "y=red-web", "--bogus", "1"], "unknown option '--bogus'")
expect(eal() + good + ["--fabric"], "option '--fabric' needs a value")
expect(eal() + good + ["--fabric", "x", "--vm", "red-web"], "--vm wants PORT=MAC or PORT=VM-NAME")
expect(eal() + good + ["--fabric", "x", "--vm", "y=red-web", "--underlay-mtu", "99"], "--underlay-mtu wants a number")
expect(eal(lcores="0@0") + good + ["--fabric", "x", "--vm", "y=red-web"], "no worker lcore")
missing = os.path.join(work, "missing.policy")
expect(eal() + ["--policy", missing, "--host", "hv1", "--fabric", "x", "--vm", "y=red-web"], f"{missing}: error: cannot read")
broken = os.path.join(work, "broken.policy")
with open(broken, "w") as f:
    f.write("provider-address host=hv1 pa=192.168.10.300 prefix-length=24 mac=02:00:c0:a8:0a:0b\n")
expect(eal() + ["--policy", broken, "--host", "hv1", "--fabric", "x", "--vm", "y=red-web"], f"{broken}:1:")
expect(eal() + ["--policy", policy, "--host", "hv9", "--fabric", "x", "--vm", "y=red-web"], "host 'hv9' owns no provider address")
expect(eal() + good + ["--fabric", "net_nonesuch", "--vm", "y=red-web"], "--fabric: no DPDK port 'net_nonesuch'")
if root:
    # A vdev on an interface that does not exist: the driver's probe fails (EAL goes on without
    # the port), and the line says what DPDK said.
    expect(eal(vdevs=["net_af_packet_x,iface=nvgre-nonesuch"]) + good + ["--fabric", "net_af_packet_x", "--vm", "y=red-web"],
           "--fabric: no DPDK port 'net_af_packet_x' (vdev_probe(): failed to initialize net_af_packet_x device)")
    # Ports: the VM must be one of this host's (red-db runs on hv2); one queue pair for two workers.
    expect(eal(vdevs=lo2) + good + ["--fabric", "net_af_packet_lo", "--vm", "net_af_packet_lo=red-db"],
           "--vm net_af_packet_lo=red-db: no VM of host 'hv1'")
    expect(eal(vdevs=lo2) + good + ["--fabric", "net_af_packet_lo", "--vm", "net_af_packet_lo=red-web"],
           "--vm net_af_packet_lo: port 'net_af_packet_lo' given twice")
    expect(eal(vdevs=["net_af_packet_lo,iface=lo,qpairs=1", "net_af_packet_lo2,iface=lo,qpairs=1"]) + good
           + ["--fabric", "net_af_packet_lo", "--vm", "net_af_packet_lo2=red-web"],
           "port net_af_packet_lo has 1 queue(s); 2 workers need 2 (net_af_packet: qpairs=2)")


def signals():
    """In a namespace of its own (only its loopback): SIGUSR1 prints every counter and the
    switch goes on; SIGINT and SIGTERM print them once more and exit 0."""
    global failures
    netns = f"nvgre-dpdk-cli-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", netns, "link", "add", "vm0", "type", "veth", "peer", "name", "vm0p"], check=True)
        cmd = [dpdk] + eal(vdevs=lo2 + ["net_af_packet_vm0,iface=vm0,qpairs=2"]) + good \
            + ["--fabric", "net_af_packet_lo", "--vm", "net_af_packet_vm0=red-web"]
        failures += check_signals(netns, cmd, work, required=["lcore 1 rx", "lcore 2 rx", "port net_af_packet_vm0 tx-dropped"])
    finally:
        subprocess.run(["ip", "netns", "del", netns])


if root and subprocess.run(["ip", "netns", "list"], capture_output=True).returncode == 0:
    signals()
else:
    print("skipped the port and signal checks: they need root (AF_PACKET, a network namespace of their own)")
print(f"{failures} failures")
sys.exit(1 if failures else 0)
