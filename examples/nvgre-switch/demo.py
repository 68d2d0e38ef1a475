#!/usr/bin/python3
"""The live demo (`make demo`): two nvgre-switch processes, one per host, switch real Linux
network stacks (network namespaces as VMs) over an NVGRE fabric, and every check prints one
PASS/FAIL line. Needs root (network namespaces); touches nothing outside its own namespaces
and its --out directory.
With --dpdk (`make demo-dpdk`) each host's switch is nvgre-dpdk instead: its ports are
net_af_packet vdevs on the same veths (two queue pairs each), two worker lcores per switch
(--lcores 0@0,1@0,2@1: the main lcore and worker 1 share CPU 0, worker 2 has CPU 1), and one
more check says that both lcores of each switch forwarded traffic.

    hv1                                        hv2
    red-web  10.0.0.5 fd00::5  (VSID 5001)     red-db   10.0.0.6 fd00::6  (VSID 5001, dhcp-guarded)
    blue-web 10.0.0.5 fd00::5  (VSID 6001,     blue-db  10.0.0.6 (DHCP) fd00::6  (VSID 6001)
             capped at 20 Mbit/s)
                                               red-db2  10.0.1.8          (VSID 5002)
                                               red-gw   10.0.0.254 fd00::fe (VSID 5001, and
                                                        5001's gateway-wildcard records)
                                                 wan0 203.0.113.1 2001:db8:113::1 (forwarding)
                                                   | veth: not virtualized, no switch
                                               internet 203.0.113.10 2001:db8:113::10
    nvgre-switch --host hv1                    nvgre-switch --host hv2
       fab0 192.168.10.11 <---- veth pair (MTU 1500) ----> fab0 192.168.10.12

red-web's default routes (via 10.0.0.1 and fd00::1: the distributed router on hv1) meet the
policy's on-link 0.0.0.0/0 and ::/0 of VSID 5001; no record holds 203.0.113.10, so hv1 sends
it to the VSID's gateway-wildcard record, red-gw on hv2, whose kernel forwards it to the
internet namespace. The internet routes 10.0.0.0/16 and fd00::/64 back through red-gw.

Port classifications and DHCP from policy (VSIDs 5001 and 6001 are dhcp=on): blue-db starts
without an IPv4 address and gets 10.0.0.6/24 from hv2 with busybox udhcpc, before the blue
checks use it. red-web gives up its static IPv4 address and asks again by DHCP while red-db,
whose port is classified dhcp-guard, runs a rogue DHCP server (scapy: unsolicited OFFER and
ACK broadcasts offering 10.0.0.99 from server 10.0.0.6): red-web gets 10.0.0.5 from hv1, hv2
counts the rogue's frames as dhcp-guard drops on red-db's port (nvgre-ctl show counters), and
a capture in red-web holds none of them. Then a bandwidth check: blue-web, classified
maximum-bandwidth=20M maximum-burst=250000, sends 30 MiB over TCP to blue-db while red-web,
unclassified, sends 30 MiB to red-db at the same time; goodput is measured at each receiver
(bytes over the time from the first byte to the last): blue at most 22 Mbit/s, red well above.
(The cap is a policer: TCP gets about half of it, 10-11 Mbit/s here, as its losses and 200 ms
retransmission timeouts leave the bucket idle; a steady 40 Mbit/s UDP stream, tried once
by hand on this setup, got 20.6 Mbit/s through.)

The hosts take their policy from a replicated store: a 3-member ovsdb-server Raft cluster on
loopback (scripts/ovsdb_cluster.py, in OUT/ovsdb), into which the demo loads the policy with
`nvgre-ovsdb load` (one transaction). Each switch runs with --ovsdb and every member's remote:
its host agent (examples/nvgre-ovsdb/agent.hpp) syncs the host's policy before the switch
starts, then applies each change the store makes. The switches live in the hosts' namespaces,
where the members' loopback TCP ports cannot be reached, so they name the members' Unix sockets
(OUT/ovsdb/mN/db.sock; hv1 lists member 1 first, hv2 member 2); nvgre-ovsdb, run outside, uses
their TCP remotes. The store is stopped and its directory removed at the end, as the namespaces.

The switches (nvgre-switch or nvgre-dpdk) also take commands from nvgre-ctl on their control
sockets (OUT/hv1.sock, OUT/hv2.sock): the demo shows the generations and ports, commits a bad
change set to the store while traffic flows (refused: the store and both switches unchanged),
shows that a switch refuses `nvgre-ctl apply` (its policy is the store's), and ends with a live
migration of red-db from hv2 to hv1 while red-web pings it every 10 ms and streams TCP to it:
one transaction in the store (`nvgre-ovsdb apply`, which both hosts' agents follow), the VM's
link into hv1's namespace, `attach` on hv1, `detach` on hv2. It times the transaction's way to
both switches (until each reports generation 2) and compares the store's view of hv1 with it.

Usage: demo.py --switch PATH [--ctl PATH] [--ovsdb-tool PATH] [--dpdk] [--policy FILE] [--out DIR] [--test]
  --ovsdb-tool: the nvgre-ovsdb program (default: beside the switch's build directory).
  --test: exit 77 (ctest's "skipped") with a message when not root, when namespaces can't be
  made or when nvgre-ovsdb was not built (no nlohmann-json), instead of failing.
Needs (scripts/deps.sh installs them) iproute2, ping, ethtool, tshark/dumpcap, busybox (udhcpc),
python3-scapy (the rogue DHCP server), ovsdb-server, ovsdb-tool and ovsdb-client
(openvswitch-common; the store) and nvgre-ovsdb (built with nlohmann-json3-dev).
Exit status: 0 when every check passed, 1 otherwise. Everything it made is removed at the end,
on failure and on Ctrl-C (the store too); it takes about a minute (25 s of it the capped
transfer), and is stopped after DEADLINE_SECONDS.
"""

import argparse
import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

NS = "nvgre-demo-"  # every namespace of the demo starts with this
DEADLINE_SECONDS = 150  # about a minute unloaded; room for a machine busy with builds (ctest allows 180)
VM_MTU = 1500  # as the fabric's: the switch answers too big (path-MTU discovery) and segments TSO
HOSTS = {"hv1": "02:00:c0:a8:0a:0b", "hv2": "02:00:c0:a8:0a:0c"}  # fabric NIC MACs (policy PA MACs)
# name, host, MAC, IPv4/len (or DHCP), IPv4 default gateway, IPv6 (or None), IPv6 default
# gateway (or None): as in examples/policies/demo.policy. red-gw, the gateway, has no default
# route: its way out is its other NIC (wan0, to the internet namespace).
DHCP = "dhcp"  # no static IPv4 address: the VM asks by DHCP (dhcp_checks)
VMS = [
    ("red-web", "hv1", "00:15:5d:00:00:05", "10.0.0.5/24", "10.0.0.1", "fd00::5", "fd00::1"),
    ("blue-web", "hv1", "00:15:5d:00:01:05", "10.0.0.5/24", "10.0.0.1", "fd00::5", None),
    ("red-db", "hv2", "00:15:5d:00:00:06", "10.0.0.6/24", "10.0.0.1", "fd00::6", None),
    ("blue-db", "hv2", "00:15:5d:00:01:06", DHCP, None, "fd00::6", None),
    ("red-db2", "hv2", "00:15:5d:00:00:08", "10.0.1.8/24", "10.0.1.1", None, None),
    ("red-gw", "hv2", "00:15:5d:00:00:fe", "10.0.0.254/24", None, "fd00::fe", None),
]
RED_DB_MAC = "00:15:5d:00:00:06"
RED_MACS = {"00:15:5d:00:00:05", "00:15:5d:00:00:06", "00:15:5d:00:00:08", "00:15:5d:00:00:fe",
            "02:00:5e:00:01:01"}  # red's VMs and red's distributed router (the default router-mac)
# The internet behind red-gw: TEST-NET-3 and an IPv6 documentation prefix, on a veth between
# red-gw's wan0 and the internet namespace's eth0, outside the virtual network (no switch).
GW_WAN = ("203.0.113.1", "2001:db8:113::1")
INTERNET = ("203.0.113.10", "2001:db8:113::10")
TCP_BYTES = 10 * 1024 * 1024
TCP_PORT = 5201
# DHCP from policy: what each subnet's answer must hold (demo.policy's records and subnets).
DHCP_DNS = "10.0.0.53"
DHCP_LEASES = {"red-web": 3600, "blue-db": 7200}  # lease-seconds of VSIDs 5001 and 6001
# The rogue DHCP server in red-db (a dhcp-guarded port): what it offers, and as which server.
ROGUE_OFFER = "10.0.0.99"
ROGUE_SERVER = "10.0.0.6"
ROGUE_SECONDS = 2.0
# Bandwidth: blue-web's classification (20 Mbit/s, a 250000-byte bucket) against red-web's
# unlimited port, 30 MiB each at the same time, on a port of their own.
BANDWIDTH_BYTES = 30 * 1024 * 1024
BANDWIDTH_PORT = 5202
CAPPED_MBITS = 20
CAPPED_LIMIT_MBITS = 22  # what the capped transfer may measure at most (the cap, plus its bucket and rounding)
MIGRATION_PINGS = 300      # every 10 ms: 3 s of pings across the migration
MIGRATION_TCP_CHUNKS = 40  # 64 KiB every 75 ms: a 2.5 MiB stream across the migration
# red-db moves to hv1's PA: one transaction in the store, which both hosts' agents follow.
MOVE_RED_DB = """# red-db moves from hv2 to hv1 (live migration), its port classification with it
+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db classification=dhcp-guarded
+ lookup-record vsid=5001 ca=fd00::6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db classification=dhcp-guarded
"""
GENERATION_SECONDS = 5  # how long the agents may take to bring the store's change to both switches
HV1_PA = "192.168.10.11"
# Two errors: a routing domain still in use, and a record on a PA nobody owns.
BAD_CHANGE_SET = """- routing-domain rdid={11111111-1111-1111-1111-111111111111}
+ lookup-record vsid=5001 ca=10.0.0.77 mac=00:15:5d:00:00:77 pa=192.168.10.99
"""


class Deadline(Exception):
    pass


def ns(name):
    return NS + name


def run(*cmd, netns=None, timeout=20, check=True):
    """Runs a command (in namespace `netns`), returns its CompletedProcess."""
    full = (["ip", "netns", "exec", ns(netns)] if netns else []) + list(cmd)
    p = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(full)}: exit {p.returncode}: {(p.stderr or p.stdout).strip()}")
    return p


def demo_namespaces():
    p = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [line.split()[0] for line in p.stdout.splitlines() if line.startswith(NS)]


def remove_namespaces():
    """Kills whatever runs in the demo's namespaces, then deletes them (their veths go too)."""
    for name in demo_namespaces():
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return demo_namespaces()


class Background:
    """A process in a namespace, stderr to a file; stopped with SIGINT/SIGTERM at teardown."""

    def __init__(self, netns, cmd, log_path, ready=None, stop_signal=signal.SIGTERM, timeout=15):
        self.log_path = log_path
        self.stop_signal = stop_signal
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns(netns)] + cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if ready:
            end = time.time() + timeout
            while ready not in self.text():
                if self.proc.poll() is not None or time.time() > end:
                    raise RuntimeError(f"{cmd[0]} did not start: {self.text().strip()}")
                time.sleep(0.05)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Switch(Background):
    name = "nvgre-switch"  # how its counter blocks begin and end: "NAME HOST: counters"

    def counters(self):
        """Asks the switch for its counters (SIGUSR1) and returns them as {name: value}."""
        before = self.text().count("end of counters")
        self.proc.send_signal(signal.SIGUSR1)
        end = time.time() + 5
        while self.text().count("end of counters") == before:
            if time.time() > end:
                raise RuntimeError("the switch printed no counters")
            time.sleep(0.02)
        return counter_values(self.text().rsplit(": counters\n", 1)[1].split(self.name, 1)[0])


def load_cluster_script():
    """scripts/ovsdb_cluster.py as a module (its Cluster class)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "ovsdb_cluster.py")
    spec = importlib.util.spec_from_file_location("ovsdb_cluster", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Store:
    """The hosts' policy store: a 3-member ovsdb-server Raft cluster on loopback (OUT/ovsdb),
    and nvgre-ovsdb against it."""

    MEMBERS = 3

    def __init__(self, tool, out):
        self.tool = tool
        self.dir = os.path.join(out, "ovsdb")
        self.cluster = None
        self.pids = []

    def start(self):
        cluster = load_cluster_script().Cluster
        if os.path.exists(self.dir):  # left by a demo killed with -9: its members stopped, its files removed
            cluster(self.dir).stop()
        self.cluster = cluster(self.dir)
        try:
            self.cluster.start(members=self.MEMBERS)
        finally:
            self.pids = [self.cluster.pid(m["n"]) for m in self.cluster.members]
        for n in range(1, self.MEMBERS + 1):
            path = self.cluster.unix_remote(n)[len("unix:"):]
            if len(path.encode()) > 107:  # sun_path
                raise RuntimeError(f"{path}: too long for a Unix socket's name (give a shorter --out)")
        return self

    def remotes(self):
        """Every member's TCP remote, for nvgre-ovsdb (outside the namespaces)."""
        return ",".join(self.cluster.remotes())

    def host_remotes(self, first):
        """Every member's Unix socket, member `first` (1..3) first: for a switch in a host's
        namespace (loopback TCP there is the namespace's own)."""
        order = [(first - 1 + i) % self.MEMBERS + 1 for i in range(self.MEMBERS)]
        return ",".join(self.cluster.unix_remote(n) for n in order)

    def run(self, command, *args, host=None):
        """nvgre-ovsdb COMMAND --remote (every member) [--host HOST] ARGS: (exit status, stdout, stderr)."""
        cmd = [self.tool, command, "--remote", self.remotes()] + (["--host", host] if host else []) + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def dump(self, host=None):
        code, text, err = self.run("dump", host=host)
        if code != 0:
            raise RuntimeError(f"nvgre-ovsdb dump: exit {code}: {err.strip()}")
        return text

    def stop(self):
        """Stops every member and removes OUT/ovsdb; returns (members still running, of how
        many, whether OUT/ovsdb is still there)."""
        if self.cluster is None:
            return 0, 0, False
        self.cluster.stop()

        def running():
            alive = []
            for pid in self.pids:
                try:
                    if pid is not None:
                        os.kill(pid, 0)
                        alive.append(pid)
                except OSError:
                    pass
            return alive

        # A member removes its pid file before it has exited (and cluster.stop() goes by that
        # file): give them a moment, then count and kill what still runs.
        end = time.monotonic() + 5
        while running() and time.monotonic() < end:
            time.sleep(0.02)
        left = running()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return len(left), len(self.pids), os.path.exists(self.dir)


def counter_values(block):
    """{name: value} of the "NAME VALUE" lines of a counters block (not the traffic lines)."""
    values = {}
    for line in block.splitlines():
        *name, value = line.split()
        if name and value.isdigit():
            values[" ".join(name)] = int(value)
    return values


TRAFFIC_LINE = re.compile(r"^port (\d+|other)(?: (.*?))? in (\d+) packets (\d+) bytes out (\d+) packets (\d+) bytes"
                          r"(?: drops (.+))?$")


def port_traffic(block):
    """{port name: {"in": packets, "out": packets, "drops": {reason: n}}} of the "port N NAME in ...
    out ... drops ..." lines of a counters block (examples/common/traffic_text.hpp); the name is
    the first word after the number (the interface), or "port N" for a number without one."""
    ports = {}
    for line in block.splitlines():
        m = TRAFFIC_LINE.match(line)
        if not m:
            continue
        name = m.group(2).split()[0] if m.group(2) else "port " + m.group(1)
        drops = dict((reason, int(n)) for reason, n in (d.split("=") for d in (m.group(7) or "").split()))
        ports[name] = {"in": int(m.group(3)), "out": int(m.group(5)), "drops": drops}
    return ports


# nvgre-dpdk (--dpdk): EAL without huge pages or PCI devices, its own files per host, three
# lcores on the machine's two CPUs, and every port an AF_PACKET vdev on the host's interface
# with a queue pair per worker. qdisc_bypass=0: the driver's transmissions pass the kernel's
# packet taps, so the fabric capture sees both directions (bypassed, dumpcap sees only what
# the host receives).
DPDK_LCORES = "0@0,1@0,2@1"
DPDK_WORKERS = 2


def dpdk_command(switch_path, remotes, host, vms, control):
    port = lambda iface: f"net_af_packet_{iface}"
    cmd = [switch_path, "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
           "--file-prefix", f"nvgre-demo-{host}", "--lcores", DPDK_LCORES]
    for iface in ["fab0"] + vms:
        cmd += ["--vdev", f"{port(iface)},iface={iface},qpairs={DPDK_WORKERS},qdisc_bypass=0"]
    cmd += ["--", "--ovsdb", remotes, "--host", host, "--fabric", port("fab0"), "--control", control]
    for vm in vms:
        cmd += ["--vm", f"{port(vm)}={vm}"]
    return cmd


def setup(switch_path, store, out, dpdk=False):
    for name in ["hv1", "hv2"] + [vm[0] for vm in VMS] + ["internet"]:
        run("ip", "netns", "add", ns(name))
    for host, mac in HOSTS.items():
        # The hosts' own kernels stay silent: no IPv6 (no router solicitations, no MLD), no
        # addresses; the switch owns their interfaces.
        run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", netns=host)
    run("ip", "link", "add", "fab0", "address", HOSTS["hv1"], "netns", ns("hv1"), "type", "veth",
        "peer", "name", "fab0", "address", HOSTS["hv2"], "netns", ns("hv2"))
    for host in HOSTS:
        run("ip", "link", "set", "fab0", "up", netns=host)
    for name, host, mac, v4, gw4, v6, gw6 in VMS:
        run("ip", "link", "add", name, "netns", ns(host), "type", "veth",
            "peer", "name", "eth0", "address", mac, "netns", ns(name))
        run("ip", "link", "set", name, "up", netns=host)
        run("ip", "link", "set", "lo", "up", netns=name)
        run("ip", "link", "set", "eth0", "mtu", str(VM_MTU), "up", netns=name)
        # nvgre-switch: the VM's NIC keeps its offloads (veth defaults: checksum offload, TSO):
        # the switch gets partial checksums and 64 KB TCP segments with a virtio-net header,
        # completes and segments them in software, and answers too big for what cannot fit.
        # nvgre-dpdk: DPDK's AF_PACKET driver takes frames without that header (nothing says a
        # checksum is partial, and a frame longer than its 2 KB ring slots is cut), so the
        # VMs finish their own checksums and segments.
        offload = "off" if dpdk else "on"
        run("ethtool", "-K", "eth0", "tx", offload, "tso", offload, "gso", offload, netns=name)
        if v4 != DHCP:
            run("ip", "addr", "add", v4, "dev", "eth0", netns=name)
        if gw4:
            run("ip", "route", "add", "default", "via", gw4, netns=name)
        if v6:
            run("ip", "-6", "addr", "add", v6 + "/64", "dev", "eth0", "nodad", netns=name)
        if gw6:
            run("ip", "-6", "route", "add", "default", "via", gw6, netns=name)
    # The gateway VM red-gw: a Linux router between its VM NIC (eth0, VSID 5001) and wan0, a
    # veth to the internet namespace. The internet routes red's addresses back through it, and
    # red-gw reaches red's other subnets through the distributed router (10.0.0.1).
    run("ip", "link", "add", "wan0", "netns", ns("red-gw"), "type", "veth", "peer", "name", "eth0", "netns", ns("internet"))
    run("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", netns="red-gw")
    run("ip", "link", "set", "wan0", "up", netns="red-gw")
    run("ip", "addr", "add", GW_WAN[0] + "/24", "dev", "wan0", netns="red-gw")
    run("ip", "-6", "addr", "add", GW_WAN[1] + "/64", "dev", "wan0", "nodad", netns="red-gw")
    run("ip", "route", "add", "10.0.0.0/16", "via", "10.0.0.1", netns="red-gw")
    run("ip", "link", "set", "lo", "up", netns="internet")
    run("ip", "link", "set", "eth0", "up", netns="internet")
    run("ip", "addr", "add", INTERNET[0] + "/24", "dev", "eth0", netns="internet")
    run("ip", "-6", "addr", "add", INTERNET[1] + "/64", "dev", "eth0", "nodad", netns="internet")
    run("ip", "route", "add", "10.0.0.0/16", "via", GW_WAN[0], netns="internet")
    run("ip", "-6", "route", "add", "fd00::/64", "via", GW_WAN[1], netns="internet")
    switches = {}
    for n, host in enumerate(HOSTS, start=1):
        control = os.path.join(out, f"{host}.sock")
        remotes = store.host_remotes(first=n)  # hv1 asks member 1 first, hv2 member 2
        if dpdk:
            cmd = dpdk_command(switch_path, remotes, host, [vm[0] for vm in VMS if vm[1] == host], control)
        else:
            ports = [arg for vm in VMS if vm[1] == host for arg in ("--vm", f"{vm[0]}={vm[0]}")]
            cmd = [switch_path, "--ovsdb", remotes, "--host", host, "--fabric", "fab0", "--control", control] + ports
        switches[host] = Switch(host, cmd, os.path.join(out, f"{host}.log"), ready=": ready:", timeout=30)
        if dpdk:
            switches[host].name = "nvgre-dpdk"
    return switches


def capture(netns, iface, path):
    cap = Background(netns, ["dumpcap", "-q", "-i", iface, "-w", path], path + ".log",
                     ready="Capturing on", stop_signal=signal.SIGINT)
    cap.pcap = path
    return cap


def tshark(path, *args):
    p = subprocess.run(["tshark", "-r", path, "-n"] + list(args), capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"tshark -r {path}: {p.stderr.strip()}")
    return [line for line in p.stdout.splitlines() if line.strip()]


def ping(vm, target, count=3, v6=False):
    """(replies received, ttls seen) of a ping from `vm`."""
    p = run("ping", "-6" if v6 else "-4", "-c", str(count), "-i", "0.2", "-W", "2", target, netns=vm, check=False)
    received = re.search(r"(\d+) received", p.stdout)
    ttls = sorted(set(re.findall(r"(?:ttl|hlim)=(\d+)", p.stdout)))
    return (int(received.group(1)) if received else 0), ttls


class Checks:
    def __init__(self):
        self.results = []

    def check(self, ok, text):
        self.results.append(bool(ok))
        print(f"{'PASS' if ok else 'FAIL'}  {text}", flush=True)


def run_checks(switches, out, c, dpdk=False):
    here = os.path.abspath(__file__)
    fabric = capture("hv1", "fab0", os.path.join(out, "fabric.pcap"))
    red_db_cap = capture("red-db", "eth0", os.path.join(out, "red-db.pcap"))
    blue_db_cap = capture("blue-db", "eth0", os.path.join(out, "blue-db.pcap"))
    try:
        # --- Red traffic only, while red-db and blue-db (same addresses) are both captured.
        got, ttls = ping("red-web", "10.0.0.6")
        c.check(got == 3 and ttls == ["64"], f"red-web -> red-db   ping 10.0.0.6: {got}/3 replies (ttl {','.join(ttls)})")
        got, ttls = ping("red-web", "fd00::6", v6=True)
        c.check(got == 3, f"red-web -> red-db   ping6 fd00::6: {got}/3 replies")

        neigh = run("ip", "neigh", "show", "dev", "eth0", netns="red-web").stdout
        learned4 = re.search(r"^10\.0\.0\.6 lladdr 00:15:5d:00:00:06", neigh, re.M) is not None
        learned6 = re.search(r"^fd00::6 lladdr 00:15:5d:00:00:06", neigh, re.M) is not None
        replies = switches["hv1"].counters()["verdict reply"]
        c.check(learned4 and learned6 and replies >= 2,
                f"red-web learned red-db's MAC 00:15:5d:00:00:06 for 10.0.0.6 (ARP: {'yes' if learned4 else 'no'}) "
                f"and fd00::6 (ND: {'yes' if learned6 else 'no'}) from the proxy on hv1 ({replies} answers, verdict reply)")

        got, ttls = ping("red-web", "10.0.1.8")
        c.check(got == 3 and ttls == ["63"],
                f"red-web -> red-db2  ping 10.0.1.8 across the distributed router (VSID 5001 -> 5002): "
                f"{got}/3 replies, ttl {','.join(ttls)} (64 - 1 at the router)")

        server = Background("red-db", ["/usr/bin/python3", here, "_tcp_server"], os.path.join(out, "tcp-server.log"),
                            ready="listening")
        answers_before = switches["hv1"].counters()["verdict reply"]
        start = time.time()
        client = run("/usr/bin/python3", here, "_tcp_client", netns="red-web", timeout=60, check=False)
        seconds = time.time() - start
        server.proc.wait(timeout=10)
        server.stop()
        sent = client.stdout.split()
        received = server.text().split()
        ok = len(sent) == 2 and len(received) >= 3 and sent == received[-2:] and sent[0] == str(TCP_BYTES)
        c.check(ok, f"red-web -> red-db   TCP {TCP_BYTES // (1024 * 1024)} MiB: sha256 {sent[1][:16] if ok else sent}... "
                    f"{'equal' if ok else 'DIFFERENT: ' + ' '.join(received)} at the far end "
                    f"({TCP_BYTES / seconds / 1e6:.1f} MB/s)")
        # Path-MTU discovery by the VM's own kernel: its first full-size (TSO) segments do not
        # fit 1500 - 42 once encapsulated, hv1 answers ICMP fragmentation needed (MTU 1458) and
        # the kernel caches that MTU for red-db; the TSO segments that follow fit and are cut
        # in software.
        answers = switches["hv1"].counters()["verdict reply"] - answers_before
        route = run("ip", "-4", "route", "get", "10.0.0.6", netns="red-web").stdout
        pmtu = re.search(r"\bmtu (\d+)", route)
        c.check(answers >= 1 and pmtu is not None and pmtu.group(1) == "1458",
                f"path MTU: red-web (MTU 1500, TSO {'off' if dpdk else 'on'}) got {answers} too-big answer(s) from hv1 during the transfer; "
                f"its kernel now sends to 10.0.0.6 with mtu {pmtu.group(1) if pmtu else '(none cached)'} (1500 - 42)")

        before = switches["hv1"].counters()["drop spoofed-source"]
        run("/usr/bin/python3", here, "_forge", netns="red-web")
        time.sleep(0.3)
        after = switches["hv1"].counters()["drop spoofed-source"]
        time.sleep(0.3)
    finally:
        red_db_cap.stop()
        blue_db_cap.stop()
    forged_seen = tshark(red_db_cap.pcap, "-Y", "ip.src == 10.0.0.99")
    c.check(after - before == 1 and not forged_seen,
            f"a frame forged by red-web (source 10.0.0.99) is dropped on hv1: drop spoofed-source {before} -> {after}; "
            f"red-db saw {len(forged_seen)} of it")

    red_filter = ("icmp || icmpv6.type == 128 || icmpv6.type == 129 || tcp || arp || "
                  + " || ".join(f"eth.src == {m}" for m in sorted(RED_MACS)))
    at_red = tshark(red_db_cap.pcap, "-Y", red_filter)
    at_blue = tshark(blue_db_cap.pcap, "-Y", red_filter)
    c.check(len(at_red) > 0 and not at_blue,
            f"isolation: red-db received {len(at_red)} frames of red's pings and TCP; blue-db, "
            f"the same 10.0.0.6 / fd00::6 in VSID 6001, received {len(at_blue)}")

    try:
        got, ttls = ping("blue-web", "10.0.0.6")
        c.check(got == 3, f"blue-web -> blue-db ping 10.0.0.6: {got}/3 replies (same addresses as red, VSID 6001)")
        got, ttls = ping("blue-web", "fd00::6", v6=True)
        c.check(got == 3, f"blue-web -> blue-db ping6 fd00::6: {got}/3 replies")
        gateway_checks(switches, out, c)
        if dpdk:
            lcore_checks(switches, c)
        time.sleep(0.3)
    finally:
        fabric.stop()

    # --- The fabric, as tshark dissects it.
    pcap = fabric.pcap
    frames = tshark(pcap, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,",
                    "-e", "frame.len", "-e", "gre.key", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src",
                    "-e", "ipv6.dst", "-e", "ip.proto", "-e", "ipv6.nxt", "-e", "tcp.srcport", "-e", "tcp.dstport")
    not_nvgre = tshark(pcap, "-Y", "!(ip.proto == 47 && gre.proto == 0x6558 && gre.flags.key == 1 && "
                                   "gre.flags.checksum == 0 && gre.flags.sequence_number == 0)")
    vsids, flows, largest = set(), {}, 0
    for line in frames:
        f = (line.split("\t") + [""] * 10)[:10]
        largest = max(largest, int(f[0]))
        if not f[1]:
            continue
        key = int(f[1], 16) if f[1].startswith("0x") else int(f[1])
        vsid, flow_id = key >> 8, key & 0xFF
        vsids.add(vsid)
        inner = (f[2].split(",")[1:] + f[3].split(",")[1:] + f[4].split(",") + f[5].split(",")
                 + f[6].split(",")[1:] + f[7].split(",") + f[8].split(",") + f[9].split(","))
        flows.setdefault((vsid, tuple(inner)), set()).add(flow_id)
    flow_ids = {fid for ids in flows.values() for fid in ids}
    stable = all(len(ids) == 1 for ids in flows.values())
    c.check(frames and not not_nvgre and {5001, 6001} <= vsids <= {5001, 5002, 6001} and len(flow_ids) >= 2 and stable,
            f"fabric: {len(frames)} frames, {len(not_nvgre)} not NVGRE; VSIDs {sorted(vsids)}; "
            f"{len(flows)} inner flows with {len(flow_ids)} distinct FlowIDs, one FlowID per flow: {stable}")
    c.check(frames and largest <= 1514,
            f"fabric MTU: the largest frame on the fabric is {largest} bytes (1500-byte IP MTU + 14 Ethernet)")
    return pcap

# busybox udhcpc's script (-s): applies the lease to the interface, IPv4 only (the VM's static
# IPv6 address stays), and writes what udhcpc was given to $LEASE_FILE.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-$subnet}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    printf 'ip=%s\nmask=%s\nrouter=%s\nserverid=%s\ndns=%s\nlease=%s\n' \
      "$ip" "$mask" "$router" "$serverid" "$dns" "$lease" > "$LEASE_FILE" ;;
esac
exit 0
"""


def dhcp_lease(vm, out):
    """busybox udhcpc on `vm`'s eth0 (up to 5 discovers, 1 s apart): ({name: value} of the lease it
    bound and applied, empty when none; udhcpc's last line)."""
    script = os.path.join(out, "udhcpc.sh")
    with open(script, "w") as f:
        f.write(UDHCPC_SCRIPT)
    os.chmod(script, 0o755)
    lease_file = os.path.join(out, f"{vm}.lease")
    if os.path.exists(lease_file):
        os.remove(lease_file)
    p = run("env", f"LEASE_FILE={lease_file}", "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1",
            "-s", script, netns=vm, timeout=20, check=False)
    lease = {}
    if os.path.exists(lease_file):
        with open(lease_file) as f:
            lease = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    said = (p.stdout + p.stderr).strip().splitlines()
    return lease, (said[-1] if said else f"exit {p.returncode}")


def lease_text(lease):
    return (f"{lease.get('ip', '-')}/{lease.get('mask', '-')}, router {lease.get('router', '-')}, server "
            f"{lease.get('serverid', '-')}, dns {lease.get('dns', '-')}, lease {lease.get('lease', '-')} s")


def lease_is(lease, vm, ca):
    """True if `lease` is what policy gives `vm`: its CA, the /24 of the on-link route, the
    gateway as router and server, the subnet's DNS server and lease time."""
    return (lease.get("ip") == ca and lease.get("mask") == "24" and lease.get("router") == "10.0.0.1"
            and lease.get("serverid") == "10.0.0.1" and lease.get("dns") == DHCP_DNS
            and lease.get("lease") == str(DHCP_LEASES[vm]))


def applied(vm):
    """(IPv4 addresses of `vm`'s eth0, its IPv4 default route) as its kernel has them."""
    addrs = re.findall(r"inet (\S+)", run("ip", "-4", "-o", "addr", "show", "dev", "eth0", netns=vm).stdout)
    route = run("ip", "-4", "route", "show", "default", netns=vm).stdout.split()
    return addrs, (route[2] if len(route) > 2 and route[1] == "via" else None)


def guard_drops(tool, out):
    """red-db's dhcp-guard drops on hv2: its "port N red-db ..." line of nvgre-ctl show counters
    (0 while there is none: a port that saw no traffic yet has no line)."""
    _, text, _ = ctl(tool, out, "hv2", "show", "counters")
    port = port_traffic(text).get("red-db")
    return port["drops"].get("dhcp-guard", 0) if port else 0


def dhcp_checks(switches, tool, out, c):
    """DHCP from policy: blue-db (no static IPv4) asks hv2; red-web asks hv1 again while red-db,
    a dhcp-guarded port, runs a rogue DHCP server."""
    before = switches["hv2"].counters()["verdict reply"]
    lease, said = dhcp_lease("blue-db", out)
    answered = switches["hv2"].counters()["verdict reply"] - before
    addrs, router = applied("blue-db")
    c.check(lease_is(lease, "blue-db", "10.0.0.6") and addrs == ["10.0.0.6/24"] and router == "10.0.0.1",
            f"blue-db (no static IPv4) asked by DHCP (busybox udhcpc): got {lease_text(lease) if lease else said} "
            f"from hv2 (verdict reply +{answered}): its CA and subnet in policy; eth0 now {', '.join(addrs) or 'no IPv4'}, "
            f"default via {router}")

    # The rogue: unsolicited OFFER and ACK broadcasts from red-db while red-web asks. red-web
    # gives up its static address first, so that what it ends up with is what DHCP gave it.
    here = os.path.abspath(__file__)
    guarded_before = guard_drops(tool, out)
    cap = capture("red-web", "eth0", os.path.join(out, "red-web-dhcp.pcap"))
    rogue = None
    try:
        rogue = Background("red-db", ["/usr/bin/python3", here, "_rogue_dhcp"], os.path.join(out, "rogue-dhcp.log"),
                           ready="rogue sending", timeout=20)
        run("ip", "-4", "addr", "flush", "dev", "eth0", netns="red-web")
        before = switches["hv1"].counters()["verdict reply"]
        lease, said = dhcp_lease("red-web", out)
        answered = switches["hv1"].counters()["verdict reply"] - before
        rogue.proc.wait(timeout=ROGUE_SECONDS + 10)
    finally:
        if rogue:
            rogue.stop()
        time.sleep(0.2)
        cap.stop()
    addrs, router = applied("red-web")
    got = lease_is(lease, "red-web", "10.0.0.5") and addrs == ["10.0.0.5/24"] and router == "10.0.0.1"
    if not got:  # red-web's own configuration back, so that the checks after this one measure theirs
        run("ip", "-4", "addr", "flush", "dev", "eth0", netns="red-web")
        run("ip", "addr", "add", "10.0.0.5/24", "dev", "eth0", netns="red-web")
        run("ip", "route", "replace", "default", "via", "10.0.0.1", netns="red-web")
    m = re.search(r"^sent (\d+)$", rogue.text(), re.M)
    sent = int(m.group(1)) if m else 0
    guarded = guard_drops(tool, out)
    c.check(got, f"red-web (static IPv4 removed) asked by DHCP while red-db's rogue server offered {ROGUE_OFFER}: got "
                 f"{lease_text(lease) if lease else said} from hv1 (verdict reply +{answered}); eth0 now "
                 f"{', '.join(addrs) or 'no IPv4'}, default via {router}")
    # What red-web's capture holds: the answers of hv1 (to show it saw DHCP) and none of the rogue's.
    answers = tshark(cap.pcap, "-Y", "dhcp && udp.srcport == 67", "-T", "fields", "-e", "dhcp.option.dhcp",
                     "-e", "dhcp.ip.your", "-e", "dhcp.option.dhcp_server_id")
    from_rogue = tshark(cap.pcap, "-Y", f"(dhcp || udp.port == 67 || udp.port == 68) && (eth.src == {RED_DB_MAC} || "
                                        f"dhcp.ip.your == {ROGUE_OFFER} || dhcp.option.dhcp_server_id == {ROGUE_SERVER})")
    kinds = {"2": "OFFER", "5": "ACK", "6": "NAK"}
    seen = [f"{kinds.get(a.split()[0], a.split()[0])} {a.split()[1]}" for a in answers if len(a.split()) == 3]
    rose = guarded > guarded_before
    c.check(sent > 0 and rose and not from_rogue and answers,
            f"DHCP guard: the rogue in red-db sent {sent} OFFER/ACK broadcasts (yiaddr {ROGUE_OFFER}, server id "
            f"{ROGUE_SERVER}); hv2 dropped them on red-db's port: dhcp-guard {guarded_before} -> {guarded}; "
            f"red-web's capture holds {len(from_rogue)} frames of the rogue and {len(answers)} DHCP answers "
            f"({', '.join(seen) or 'none'}, all from server 10.0.0.1: "
            f"{all(a.split()[-1] == '10.0.0.1' for a in answers) if answers else '-'})")


def bandwidth_checks(switches, tool, out, c):
    """blue-web's port classification (20 Mbit/s) against red-web's unlimited port: 30 MiB
    each, at the same time, measured at the receivers."""
    here = os.path.abspath(__file__)
    pairs = [("blue-web", "blue-db"), ("red-web", "red-db")]
    sinks = {src: Background(dst, ["/usr/bin/python3", here, "_sink"], os.path.join(out, f"bandwidth-{dst}.log"),
                             ready="listening") for src, dst in pairs}
    _, before, _ = ctl(tool, out, "hv1", "show", "counters")
    sources = {src: Background(src, ["/usr/bin/python3", here, "_source"], os.path.join(out, f"bandwidth-{src}.log"))
               for src, _ in pairs}
    results = {}
    for src, dst in pairs:
        sources[src].proc.wait(timeout=60)
        sources[src].stop()
        sinks[src].proc.wait(timeout=10)
        sinks[src].stop()
        sent = sources[src].text().split()
        got = sinks[src].text().split()
        intact = len(sent) == 2 and len(got) == 4 and got[1:3] == sent and sent[0] == str(BANDWIDTH_BYTES)
        mbits = int(got[1]) * 8 / float(got[3]) / 1e6 if len(got) == 4 and float(got[3]) > 0 else 0.0
        results[src] = (intact, mbits, float(got[3]) if len(got) == 4 else 0.0)
    _, after, _ = ctl(tool, out, "hv1", "show", "counters")

    def limited(text, vm):
        return port_traffic(text).get(vm, {"drops": {}})["drops"].get("rate-limited", 0)

    dropped = {vm: limited(after, vm) - limited(before, vm) for vm in ("blue-web", "red-web")}
    unmetered = counter_values(after).get("unmetered")
    (blue_ok, blue, blue_s), (red_ok, red, red_s) = results["blue-web"], results["red-web"]
    mib = BANDWIDTH_BYTES // (1024 * 1024)
    c.check(blue_ok and red_ok and 0 < blue <= CAPPED_LIMIT_MBITS and red > 2 * CAPPED_LIMIT_MBITS
            and dropped["blue-web"] > 0 and dropped["red-web"] == 0 and unmetered == 0,
            f"bandwidth: blue-web (maximum-bandwidth={CAPPED_MBITS}M maximum-burst=250000) -> blue-db {mib} MiB: "
            f"{blue:.1f} Mbit/s at the receiver ({blue_s:.1f} s, at most {CAPPED_LIMIT_MBITS}); red-web (unclassified) -> "
            f"red-db {mib} MiB at the same time: {red:.1f} Mbit/s ({red_s:.1f} s); sha256 equal: blue {blue_ok}, "
            f"red {red_ok}; hv1 dropped rate-limited: blue-web {dropped['blue-web']}, red-web {dropped['red-web']} "
            f"(unmetered {unmetered})")


def ctl(tool, out, host, *args, stdin=None):
    """nvgre-ctl against HOST's switch: (exit status, stdout, stderr)."""
    p = subprocess.run([tool, "--socket", os.path.join(out, f"{host}.sock")] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=15)
    return p.returncode, p.stdout, p.stderr


def pinger(out, name, count):
    """red-web pinging red-db every 10 ms, in the background."""
    return Background("red-web", ["ping", "-4", "-n", "-i", "0.01", "-W", "1", "-c", str(count), "10.0.0.6"],
                      os.path.join(out, f"{name}.log"))


def ping_totals(p):
    """(sent, received) of a finished pinger."""
    p.proc.wait(timeout=30)
    p.stop()
    m = re.search(r"(\d+) packets transmitted, (\d+) received", p.text())
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def show_generation(out, host):
    """`show generation` straight on HOST's control socket (examples/common/control_socket.hpp:
    one request per connection, then `ok` or `error` and the text): the number, or None. No
    nvgre-ctl process per question, so polling it times a change to a millisecond or two."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2)
        s.connect(os.path.join(out, f"{host}.sock"))
        s.sendall(b"show generation\n")
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    except OSError:
        return None
    finally:
        s.close()
    m = re.match(rb"ok\ngeneration (\d+)\n", reply)
    return int(m.group(1)) if m else None


class GenerationWatch(threading.Thread):
    """Polls both switches' generation from `began` until each has reached `want` (or
    GENERATION_SECONDS passed): .reached[host] is the time.monotonic() it was first seen."""

    def __init__(self, out, hosts, want):
        super().__init__(daemon=True)
        self.out, self.hosts, self.want = out, list(hosts), want
        self.reached = {}
        self.last = {}
        self.began = time.monotonic()
        self.start()

    def run(self):
        end = self.began + GENERATION_SECONDS
        while len(self.reached) < len(self.hosts) and time.monotonic() < end:
            for host in self.hosts:
                if host in self.reached:
                    continue
                g = show_generation(self.out, host)
                self.last[host] = g
                if g is not None and g >= self.want:
                    self.reached[host] = time.monotonic()
            time.sleep(0.001)


AGENT_APPLIED = re.compile(r"agent (\S+): applied (\d+) change\(s\), generation (\d+)$", re.M)


def agent_applied(sw):
    """[(changes, generation)] of the "... agent HOST: applied N change(s), generation G" lines
    of a switch's log (the first is the sync before it started)."""
    return [(int(m.group(2)), int(m.group(3))) for m in AGENT_APPLIED.finditer(sw.text())]


def control_checks(switches, tool, store, out, c):
    """nvgre-ctl against the running switches, a bad change set committed to the store, then
    red-db's live migration from hv2 to hv1 as one transaction in the store."""
    generations = {host: ctl(tool, out, host, "show", "generation")[1].strip() for host in switches}
    code, ports, _ = ctl(tool, out, "hv1", "show", "ports")
    _, counters, _ = ctl(tool, out, "hv2", "show", "counters")
    c.check(all(g == "generation 1" for g in generations.values()) and code == 0
            and re.search(r"^port 0 red-web 00:15:5d:00:00:05 vsid 5001$", ports, re.M)
            and re.search(r"^port 1 blue-web 00:15:5d:00:01:05 vsid 6001$", ports, re.M)
            and "generation 1" in counters and "verdict deliver" in counters,
            f"nvgre-ctl: show generation: {', '.join(f'{h} {g}' for h, g in generations.items())}; show ports on hv1: "
            f"{'; '.join(ports.strip().splitlines())}; show counters on hv2: {len(counters.splitlines())} lines")

    # A bad change set committed to the store while traffic flows: every error, nothing
    # changed (in the store, on either switch), nothing lost.
    bad = os.path.join(out, "bad.cs")
    with open(bad, "w") as f:
        f.write(BAD_CHANGE_SET)
    stored = store.dump()
    pings = pinger(out, "ping-bad-change-set", 100)
    time.sleep(0.3)
    code, _, errors = store.run("apply", bad)
    sent, received = ping_totals(pings)
    unchanged = store.dump() == stored
    after = {host: ctl(tool, out, host, "show", "generation")[1].strip() for host in switches}
    lines = errors.strip().splitlines()
    c.check(code == 1 and len(lines) == 2 and all(line.startswith(bad + ":") for line in lines) and unchanged
            and all(g == "generation 1" for g in after.values()) and sent == 100 and received == sent,
            f"nvgre-ovsdb apply of a bad change set to the store while red-web pinged red-db every 10 ms: exit {code}, "
            f"{len(lines)} errors ({' | '.join(os.path.basename(line) for line in lines)}); the store "
            f"{'unchanged' if unchanged else 'CHANGED'} (dump before == after, {len(stored.splitlines())} objects); "
            f"still {', '.join(f'{h} {g}' for h, g in after.items())}; lost {sent - received} of {sent} pings")

    # The store is the one source of policy: a switch refuses a change set from its control
    # socket, even a valid one (red-db's move, which the migration then commits to the store).
    move = os.path.join(out, "move-red-db.cs")
    with open(move, "w") as f:
        f.write(MOVE_RED_DB)
    code, _, said = ctl(tool, out, "hv1", "apply", move)
    still = ctl(tool, out, "hv1", "show", "generation")[1].strip()
    c.check(code == 1 and "takes its policy from OVSDB" in said and still == "generation 1",
            f"nvgre-ctl apply of a valid change set (red-db's move) straight to hv1: refused, exit {code}: "
            f"{said.strip()}; still {still}")

    # The live migration: one transaction in the store (both hosts' agents apply it as it comes,
    # the new host's and the old host's at about the same time), the VM's link moves, then
    # attach on the new host and detach on the old one.
    here = os.path.abspath(__file__)
    server = Background("red-db", ["/usr/bin/python3", here, "_tcp_server"], os.path.join(out, "migration-tcp-server.log"),
                        ready="listening")
    client = Background("red-web", ["/usr/bin/python3", here, "_tcp_paced"], os.path.join(out, "migration-tcp-client.log"))
    pings = pinger(out, "ping-migration", MIGRATION_PINGS)
    applied_before = {host: len(agent_applied(sw)) for host, sw in switches.items()}
    time.sleep(0.8)
    steps = [
        ("store", ["apply", move]),                          # 1. one transaction: red-db's records at hv1's PA
        (None, ["ip", "-n", ns("hv2"), "link", "set", "red-db", "netns", ns("hv1")]),  # 2. the VM's link moves
        (None, ["ip", "-n", ns("hv1"), "link", "set", "red-db", "up"]),
        ("hv1", ["attach", "red-db=red-db"]),                # 3. ... onto hv1's switch (nvgre-dpdk hot-plugs
                                                             #    a net_af_packet port on the interface)
        ("hv2", ["detach", "red-db"]),                       # 4. the old host lets go of it
    ]
    watch = GenerationWatch(out, switches, 2)  # from just before the transaction
    began = time.monotonic()
    committed = None
    failed = []
    for host, args in steps:
        if host == "store":
            code, stdout, stderr = store.run(*args)
            committed = time.monotonic()
        elif host:
            code, stdout, stderr = ctl(tool, out, host, *args)
        else:
            p = subprocess.run(args, capture_output=True, text=True, timeout=15)
            code, stdout, stderr = p.returncode, p.stdout, p.stderr
        if code != 0:
            failed.append(f"{host or 'ip'} {' '.join(args)}: {stderr.strip()}")
    took = time.monotonic() - began
    sent, received = ping_totals(pings)
    client.proc.wait(timeout=30)
    client.stop()
    server.proc.wait(timeout=30)
    server.stop()
    watch.join(timeout=GENERATION_SECONDS + 1)
    streamed = client.text().split()
    arrived = server.text().split()
    intact = len(streamed) == 2 and len(arrived) >= 3 and streamed == arrived[-2:]
    lost = sent - received
    c.check(not failed and sent >= 100 and lost <= sent * 5 // 100 and intact,
            f"live migration: red-db moved hv2 -> hv1 while red-web pinged it every 10 ms: lost {lost} of {sent} pings; "
            + ("TCP stream intact (sha256 equal)" if intact else f"TCP stream BROKEN (sent {streamed}, got {arrived})")
            + (f"; failed steps: {failed}" if failed else ""))
    generations = {host: ctl(tool, out, host, "show", "generation")[1].strip() for host in switches}
    _, ports1, _ = ctl(tool, out, "hv1", "show", "ports")
    _, ports2, _ = ctl(tool, out, "hv2", "show", "ports")
    got, _ = ping("red-web", "10.0.0.6")
    local = switches["hv1"].counters()["verdict local"]
    on_hv2 = re.search(r"^port \d+ red-db ", ports2, re.M) is not None  # (red-db2 stays there)
    c.check(all(g == "generation 2" for g in generations.values())
            and re.search(r"^port 2 red-db 00:15:5d:00:00:06 vsid 5001$", ports1, re.M) and not on_hv2
            and got == 3 and local > 0,
            f"after the migration ({took * 1000:.0f} ms of steps): {', '.join(f'{h} {g}' for h, g in generations.items())}; "
            f"red-db is port 2 on hv1 ({'yes' if 'red-db' in ports1 else 'no'}) and gone from hv2 "
            f"({'no' if on_hv2 else 'yes'}); red-web -> red-db ping {got}/3, switched on hv1 "
            f"(verdict local {local})")

    # The store's side of it: how long the transaction took to reach both switches, that each
    # applied it once (one change set of red-db's two records, generation 1 -> 2), and that
    # the store's view of hv1 holds red-db at hv1's PA as the change set gave it.
    def ms(t):
        return f"{(t - began) * 1000:.0f} ms" if t is not None else "never"

    applied = {host: agent_applied(sw)[applied_before[host]:] for host, sw in switches.items()}
    once = all(a == [(2, 2)] for a in applied.values())
    moved = sorted(line[2:] for line in MOVE_RED_DB.splitlines() if line.startswith("+ "))
    views = {host: store.dump(host=host) for host in switches}
    held = {host: sorted(line for line in text.splitlines()
                         if line.startswith("lookup-record ") and " vm=red-db " in line + " ") for host, text in views.items()}
    both = [watch.reached.get(host) for host in switches]
    last = max(both) if None not in both else None
    c.check(committed is not None and last is not None and once and all(h == moved for h in held.values())
            and all(f"pa={HV1_PA} " in line for line in held["hv1"]),
            f"store -> switches: both switches at generation 2 {ms(last)} after nvgre-ovsdb apply of the migration "
            f"started ({', '.join(f'{h} {ms(watch.reached.get(h))}' if h in watch.reached else f'{h} never: last generation {watch.last.get(h)}' for h in switches)}; the apply returned, its "
            f"transaction committed, at {ms(committed)}); each applied it once ("
            + "; ".join(f"{h}: " + (", ".join(f"{n} changes -> generation {g}" for n, g in a) or "nothing")
                        for h, a in applied.items())
            + f"); nvgre-ovsdb dump --host hv1 holds red-db at hv1's PA {HV1_PA} ({len(held['hv1'])} records, as "
            f"the change set gave them: {held['hv1'] == moved}; --host hv2 too: {held['hv2'] == moved})")


def lcore_checks(switches, c):
    """nvgre-dpdk: each switch's worker lcores all received and sent frames (its ports' queues
    are spread over them: the kernel's fanout hash of AF_PACKET, by flow)."""
    parts = []
    ok = True
    for host, sw in switches.items():
        counters = sw.counters()
        lcores = sorted({name.split()[1] for name in counters if name.startswith("lcore ")}, key=int)
        rx = {lc: counters[f"lcore {lc} rx"] for lc in lcores}
        tx = {lc: counters[f"lcore {lc} tx"] for lc in lcores}
        ok = ok and len(lcores) == DPDK_WORKERS and all(rx[lc] > 0 and tx[lc] > 0 for lc in lcores)
        parts.append(f"{host}: " + ", ".join(f"lcore {lc} rx {rx[lc]} tx {tx[lc]}" for lc in lcores))
    c.check(ok, f"both worker lcores of each switch forwarded traffic: {'; '.join(parts)}")


def first_from(ping_output):
    """The first "From ADDRESS icmp_seq=N TEXT" line of a ping's output (an ICMP error), or None."""
    m = re.search(r"^From (\S+) icmp_seq=\d+ (.+)$", ping_output, re.M)
    return (m.group(1), m.group(2).strip()) if m else None


def gateway_checks(switches, out, c):
    """The distributed router's own answers, and the way out of red: red-gw and the internet."""
    # Echo requests to the gateway addresses are for the router itself (egress rule 8): hv1
    # answers them (verdict reply) and nothing crosses the fabric.
    before = switches["hv1"].counters()["verdict reply"]
    got4, ttls4 = ping("red-web", "10.0.0.1")
    got6, ttls6 = ping("red-web", "fd00::1", v6=True)
    answered = switches["hv1"].counters()["verdict reply"] - before
    c.check(got4 == 3 and got6 == 3 and answered >= 6,
            f"red-web -> its gateways: ping 10.0.0.1 {got4}/3, ping6 fd00::1 {got6}/3 echo replies, from the "
            f"distributed router on hv1 (verdict reply +{answered})")

    internet = capture("internet", "eth0", os.path.join(out, "internet.pcap"))
    try:
        got4, ttls4 = ping("red-web", INTERNET[0])
        got6, ttls6 = ping("red-web", INTERNET[1], v6=True)
        # A probe that the first router must expire: the distributed router on hv1 (egress
        # rule 5) answers time exceeded from the sender's gateway address; the probe never
        # reaches red-gw or the internet.
        expired_before = switches["hv1"].counters()["drop ttl-expired"]
        probe4 = run("ping", "-4", "-c", "1", "-t", "1", "-W", "2", INTERNET[0], netns="red-web", check=False).stdout
        probe6 = run("ping", "-6", "-c", "1", "-t", "1", "-W", "2", INTERNET[1], netns="red-web", check=False).stdout
        expired = switches["hv1"].counters()["drop ttl-expired"] - expired_before
        time.sleep(0.3)
    finally:
        internet.stop()
    # What the internet host received: red-web's own source address (no NAT anywhere), each
    # request routed twice on its way (the distributed router, then red-gw's kernel).
    seen4 = tshark(internet.pcap, "-Y", f"icmp.type == 8 && ip.src == 10.0.0.5 && ip.dst == {INTERNET[0]}",
                   "-T", "fields", "-e", "ip.ttl")
    seen6 = tshark(internet.pcap, "-Y", f"icmpv6.type == 128 && ipv6.src == fd00::5 && ipv6.dst == {INTERNET[1]}",
                   "-T", "fields", "-e", "ipv6.hlim")
    c.check(got4 == 3 and ttls4 == ["63"] and len(seen4) == 3 and set(seen4) == {"62"},
            f"red-web -> internet ping {INTERNET[0]} (0.0.0.0/0 on-link: VSID 5001's gateway-wildcard record, red-gw "
            f"on hv2): {got4}/3 replies (ttl {','.join(ttls4)}); the internet got {len(seen4)} requests from 10.0.0.5 "
            f"(ttl {','.join(sorted(set(seen4)))}: routed by hv1, then red-gw)")
    c.check(got6 == 3 and ttls6 == ["63"] and len(seen6) == 3 and set(seen6) == {"62"},
            f"red-web -> internet ping6 {INTERNET[1]} (::/0 on-link, the IPv6 wildcard record): {got6}/3 replies "
            f"(hop limit {','.join(ttls6)}); the internet got {len(seen6)} requests from fd00::5 "
            f"(hop limit {','.join(sorted(set(seen6)))})")
    from4, from6 = first_from(probe4), first_from(probe6)
    c.check(from4 == ("10.0.0.1", "Time to live exceeded") and from6 == ("fd00::1", "Time exceeded: Hop limit")
            and expired == 2,
            f"TTL 1 toward {INTERNET[0]}: {'From %s: %s' % from4 if from4 else 'no ICMP error'}; hop limit 1 toward "
            f"{INTERNET[1]}: {'From %s: %s' % from6 if from6 else 'no ICMP error'} (hv1: drop ttl-expired +{expired})")


# --- Helpers run inside a VM namespace (demo.py _tcp_server | _tcp_client | _tcp_paced | _forge |
# _sink | _source | _rogue_dhcp).

def tcp_server():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", TCP_PORT))
    s.listen(1)
    print("listening", flush=True)
    s.settimeout(60)
    conn, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    print(n, h.hexdigest(), flush=True)


def tcp_client():
    data = os.urandom(TCP_BYTES)
    s = socket.create_connection(("10.0.0.6", TCP_PORT), timeout=60)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the server closes after reading everything
    print(len(data), hashlib.sha256(data).hexdigest())


def tcp_paced():
    """A TCP stream to red-db paced across the migration: 64 KiB every 75 ms."""
    h = hashlib.sha256()
    s = socket.create_connection(("10.0.0.6", TCP_PORT), timeout=60)
    n = 0
    for _ in range(MIGRATION_TCP_CHUNKS):
        chunk = os.urandom(64 * 1024)
        s.sendall(chunk)
        h.update(chunk)
        n += len(chunk)
        time.sleep(0.075)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    print(n, h.hexdigest(), flush=True)


def forge():
    """One UDP frame from red-web's MAC with a source address that is not red-web's."""
    def ipv4_checksum(header):
        total = sum(struct.unpack("!10H", header))
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        return ~total & 0xFFFF

    payload = b"forged by red-web"
    udp = struct.pack("!HHHH", 4000, 4000, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton("10.0.0.99"), socket.inet_aton("10.0.0.6"))
    ip = ip[:10] + struct.pack("!H", ipv4_checksum(ip)) + ip[12:]
    eth = bytes.fromhex("00155d000006" "00155d000005" "0800")
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("eth0", 0))
    s.send(eth + ip + udp)


def sink():
    """Receives one TCP connection on BANDWIDTH_PORT; prints "listening", then the bytes, their
    sha256 and the seconds from the first byte to the last."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", BANDWIDTH_PORT))
    s.listen(1)
    print("listening", flush=True)
    s.settimeout(60)
    conn, _ = s.accept()
    h, n, first, last = hashlib.sha256(), 0, None, None
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            break
        last = time.monotonic()
        if first is None:
            first = last
        h.update(chunk)
        n += len(chunk)
    conn.close()
    print(n, h.hexdigest(), f"{(last - first) if first is not None else 0:.6f}", flush=True)


def source():
    """BANDWIDTH_BYTES of random data to 10.0.0.6:BANDWIDTH_PORT; prints the bytes and their sha256."""
    data = os.urandom(BANDWIDTH_BYTES)
    s = socket.create_connection(("10.0.0.6", BANDWIDTH_PORT), timeout=60)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    print(len(data), hashlib.sha256(data).hexdigest(), flush=True)


def rogue_dhcp():
    """A rogue DHCP server on red-db's eth0 for ROGUE_SECONDS: unsolicited OFFER and ACK
    broadcasts (UDP 67 -> 68) for red-web's MAC, offering ROGUE_OFFER as server ROGUE_SERVER,
    one every 5 ms; prints "rogue sending" after the first and "sent N" at the end."""
    from scapy.all import BOOTP, DHCP, IP, UDP, Ether  # /usr/bin/python3's scapy

    red_web = bytes.fromhex("00155d000005")
    frames = [bytes(Ether(src=RED_DB_MAC, dst="ff:ff:ff:ff:ff:ff") / IP(src=ROGUE_SERVER, dst="255.255.255.255")
                    / UDP(sport=67, dport=68)
                    / BOOTP(op=2, xid=0x0BAD0000 + i, flags=0x8000, yiaddr=ROGUE_OFFER, siaddr=ROGUE_SERVER,
                            chaddr=red_web + bytes(10))
                    / DHCP(options=[("message-type", kind), ("server_id", ROGUE_SERVER), ("subnet_mask", "255.255.255.0"),
                                    ("router", ROGUE_SERVER), ("name_server", ROGUE_SERVER), ("lease_time", 600), "end"]))
              for i, kind in enumerate(("offer", "ack"))]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("eth0", 0))
    sent = 0
    end = time.time() + ROGUE_SECONDS
    while time.time() < end:
        s.send(frames[sent % 2])
        sent += 1
        if sent == 1:
            print("rogue sending", flush=True)
        time.sleep(0.005)
    print(f"sent {sent}", flush=True)


def main():
    helpers = {"_tcp_server": tcp_server, "_tcp_client": tcp_client, "_tcp_paced": tcp_paced, "_forge": forge,
               "_sink": sink, "_source": source, "_rogue_dhcp": rogue_dhcp}
    if len(sys.argv) == 2 and sys.argv[1] in helpers:
        helpers[sys.argv[1]]()
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="the nvgre live demo")
    ap.add_argument("--switch", required=True)
    ap.add_argument("--ctl", help="nvgre-ctl (default: beside the switch's build directory)")
    ap.add_argument("--ovsdb-tool", help="nvgre-ovsdb (default: beside the switch's build directory)")
    ap.add_argument("--dpdk", action="store_true", help="the switch is nvgre-dpdk")
    ap.add_argument("--policy", default=os.path.join(here, "..", "policies", "demo.policy"))
    ap.add_argument("--out", default="build/demo/live")
    ap.add_argument("--test", action="store_true")
    a = ap.parse_args()
    skip = 77 if a.test else 1

    if os.geteuid() != 0:
        print("demo: the live demo needs root (it makes network namespaces): skipped", flush=True)
        return skip
    for tool in ("ip", "ping", "ethtool", "dumpcap", "tshark", "sysctl", "busybox", "ovsdb-server", "ovsdb-tool",
                 "ovsdb-client", "ovs-appctl"):
        if shutil.which(tool) is None:
            print(f"demo: '{tool}' is missing (make demo installs it)", flush=True)
            return 1
    builds = os.path.dirname(os.path.dirname(os.path.abspath(a.switch)))
    ovsdb_tool = os.path.abspath(a.ovsdb_tool or os.path.join(builds, "nvgre-ovsdb", "nvgre-ovsdb")) if a.ovsdb_tool != "" else ""
    if not (ovsdb_tool and os.access(ovsdb_tool, os.X_OK)):
        print(f"demo: no nvgre-ovsdb{' at ' + ovsdb_tool if ovsdb_tool else ''}, through which the hosts take their "
              f"policy (it is built when nlohmann-json is installed: make demo installs it): "
              f"{'skipped' if a.test else 'stopped'}", flush=True)
        return skip
    if importlib.util.find_spec("scapy") is None:
        print("demo: python3-scapy is missing (make demo installs it)", flush=True)
        return 1
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)

    # One demo at a time on a machine (the namespace names are fixed); a demo killed with -9
    # leaves namespaces behind, removed here by the next one.
    lock = open("/run/nvgre-demo.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    remove_namespaces()
    probe = subprocess.run(["ip", "netns", "add", ns("probe")], capture_output=True, text=True)
    subprocess.run(["ip", "netns", "del", ns("probe")], capture_output=True)
    if probe.returncode != 0:
        print(f"demo: cannot make network namespaces here ({probe.stderr.strip()}): skipped", flush=True)
        return skip

    def on_signal(signum, _frame):
        raise KeyboardInterrupt if signum != signal.SIGALRM else Deadline()

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(s, on_signal)
    signal.alarm(DEADLINE_SECONDS)

    started = time.time()
    print(f"nvgre live demo{' on DPDK (nvgre-dpdk)' if a.dpdk else ''}: hosts hv1 and hv2, VMs {', '.join(vm[0] for vm in VMS)}, the internet behind red-gw "
          f"(policy {os.path.relpath(a.policy)}, from a {Store.MEMBERS}-member OVSDB cluster)", flush=True)
    tool = os.path.abspath(a.ctl or os.path.join(builds, "nvgre-ctl", "nvgre-ctl"))
    c = Checks()
    switches = {}
    store = Store(ovsdb_tool, out)
    pcap = None
    interrupted = None
    try:
        store.start()
        began = time.monotonic()
        code, said, errors = store.run("load", os.path.abspath(a.policy))
        if code != 0:
            raise RuntimeError(f"nvgre-ovsdb load {a.policy}: exit {code}: {(errors or said).strip()}")
        print(f"OVSDB: {Store.MEMBERS}-member Raft cluster on loopback (leader: member {store.cluster.leader()}), "
              f"{os.path.basename(a.policy)} {said.strip()} in {(time.monotonic() - began) * 1000:.0f} ms (nvgre-ovsdb load, "
              f"one transaction); hv1 asks member 1 first, hv2 member 2", flush=True)
        switches = setup(os.path.abspath(a.switch), store, out, a.dpdk)
        for host, sw in switches.items():
            print(next(line for line in sw.text().splitlines() if ": ready:" in line), flush=True)
        dhcp_checks(switches, tool, out, c)
        pcap = run_checks(switches, out, c, a.dpdk)
        bandwidth_checks(switches, tool, out, c)
        control_checks(switches, tool, store, out, c)
    except KeyboardInterrupt:
        interrupted = "interrupted"
    except Deadline:
        interrupted = f"stopped after {DEADLINE_SECONDS} s"
    except Exception as e:  # a step that could not run is a failed check, then teardown
        c.check(False, f"{type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for host, sw in switches.items():
            code = sw.stop()  # SIGTERM: the switch prints its final counters
            if code != 0:
                c.check(False, f"{sw.name} on {host} exited with status {code} (log {sw.log_path})")
        made = len(demo_namespaces())  # the hosts, the VMs and the internet, when setup got that far
        left = remove_namespaces()
        running = [host for host, sw in switches.items() if sw.proc.poll() is None]
        members_left, members, files_left = store.stop()  # after the switches (their agents would look for another member)
        c.check(not left and not running and not members_left and not files_left,
                f"teardown: {len(left)} of {made} namespaces, {len(running)} switch processes and {members_left} of "
                f"{members} store members left behind{' (and ' + store.dir + ')' if files_left else ''}")
        fcntl.flock(lock, fcntl.LOCK_UN)
    if interrupted:
        print(f"demo: {interrupted}", flush=True)
        c.results.append(False)
    for host, sw in switches.items():
        final = sw.text().rsplit(": counters\n", 1)[-1].split(sw.name, 1)[0]
        values = counter_values(final)
        print(f"{host} counters: {', '.join(f'{name} {n}' for name, n in values.items() if n)}")
        drops = [f"{name} {' '.join(f'{r}={n}' for r, n in t['drops'].items())}"
                 for name, t in port_traffic(final).items() if t["drops"]]
        if drops:
            print(f"{host} drops by port: {'; '.join(drops)}")
    if pcap:
        print(f"fabric capture: {pcap} (open it in Wireshark)")
    passed = sum(c.results)
    print(f"took {time.time() - started:.0f} s")
    print(f"demo: {passed}/{len(c.results)} checks passed")
    return 0 if passed == len(c.results) and c.results else 1


if __name__ == "__main__":
    sys.exit(main())
