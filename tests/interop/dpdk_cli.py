#!/usr/bin/python3
"""nvgre-dpdk's failures: every bad start — EAL, a port, the policy, the arguments — exits 1
with one clear line on stderr; and, as root in a namespace of its own, SIGUSR1 prints the
counters and SIGINT / SIGTERM stop it cleanly (counters once more, exit 0).
Then its control socket, driven by the real nvgre-ctl: on memory-only ring ports (no root),
show generation, a good change set (generation 2), a bad one (exit 1, every error at its
FILE:LINE:COL, the generation unchanged), show ports and counters, detach; as root, in a
namespace of its own, attach and detach of a veth (a net_af_packet port hot-plugged), with an
ARP request from the VM answered only while the port is attached, and attach/detach cycles
while the VM sends.
Usage: dpdk_cli.py NVGRE_DPDK DEMO_POLICY WORKDIR NVGRE_CTL"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from switch_signals import check_signals

RED_APP_MAC = "00:15:5d:00:00:07"  # the VM the good change set adds on hv1 (GOOD_CHANGE_SET)


def arp_request(mac, sender, target):
    """An ARP request from `mac` (IPv4 `sender`) for `target`, broadcast."""
    m = bytes.fromhex(mac.replace(":", ""))
    return (b"\xff" * 6 + m + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + m + socket.inet_aton(sender)
            + b"\x00" * 6 + socket.inet_aton(target))


def arp_probe(iface, seconds):
    """Helper run in the test's namespace: asks for 10.0.0.6 as red-app from `iface` until an
    answer comes (prints "reply from MAC", exit 0) or `seconds` pass ("no reply", exit 1)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    s.bind((iface, 0x0806))
    s.settimeout(0.1)
    end = time.time() + float(seconds)
    while time.time() < end:
        s.send(arp_request(RED_APP_MAC, "10.0.0.7", "10.0.0.6"))
        try:
            while True:
                f = s.recv(2048)
                if len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02":
                    print("reply from " + ":".join(f"{b:02x}" for b in f[22:28]), flush=True)
                    return 0
        except socket.timeout:
            pass
    print("no reply", flush=True)
    return 1


def arp_flood(iface, seconds):
    """Helper: an ARP request from red-app every millisecond for `seconds`."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    frame = arp_request(RED_APP_MAC, "10.0.0.7", "10.0.0.6")
    end = time.time() + float(seconds)
    sent = 0
    while time.time() < end:
        s.send(frame)
        sent += 1
        time.sleep(0.001)
    print(f"sent {sent}", flush=True)
    return 0


if len(sys.argv) == 4 and sys.argv[1] in ("_arp_probe", "_arp_flood"):
    sys.exit((arp_probe if sys.argv[1] == "_arp_probe" else arp_flood)(sys.argv[2], sys.argv[3]))

dpdk, policy, work, ctl = sys.argv[1:5]
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
expect(eal() + [], "one of --policy FILE and --ovsdb REMOTES is required (or --bench)")
expect(eal() + ["--policy", policy, "--ovsdb", "tcp:127.0.0.1:6641", "--host", "hv1", "--fabric", "x", "--vm", "y=red-web"],
       "one of --policy FILE and --ovsdb REMOTES is required")
expect(eal() + ["--ovsdb", "tcp:127.0.0.1", "--host", "hv1", "--fabric", "x", "--vm", "y=red-web"], "not tcp:IP:PORT or unix:PATH")
expect(eal() + ["--policy", policy, "--host", "hv1"],
       "--host, --fabric and at least one --vm (or --control, to attach VM ports later) are required")
expect(eal() + good + ["--fabric", "x", "--control", "s", "--grace-ms", "-1"],
       "--grace-ms wants a number of milliseconds from 0 to 3600000, not '-1'")
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


# --- The control socket, through nvgre-ctl.

GOOD_CHANGE_SET = """# a VM comes to hv1
+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11 vm=red-app
"""
# Two errors: a routing domain still in use, and a record on a PA nobody owns.
BAD_CHANGE_SET = """- routing-domain rdid={11111111-1111-1111-1111-111111111111}
+ lookup-record vsid=5001 ca=10.0.0.77 mac=00:15:5d:00:00:77 pa=192.168.10.99
"""


def check(name, ok, detail):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    failures += not ok


class running_switch:
    """nvgre-dpdk with --control SOCKET (inside `netns`, when given), until stop()."""

    def __init__(self, args, sock, log, netns=None):
        self.log_path = log
        self.sock = sock
        self.log = open(log, "w")
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.proc = subprocess.Popen(prefix + [dpdk] + args + ["--control", sock], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        end = time.time() + 20
        while ": ready:" not in self.text() and self.proc.poll() is None and time.time() < end:
            time.sleep(0.05)
        self.ready = ": ready:" in self.text()

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def ctl(self, *words, stdin=None):
        """nvgre-ctl against it: (exit status, stdout, stderr)."""
        p = subprocess.run([ctl, "--socket", self.sock] + list(words), input=stdin, capture_output=True, text=True,
                           timeout=15)
        return p.returncode, p.stdout, p.stderr

    def expect(self, words, code, out=None, err=None):
        """nvgre-ctl WORDS exits `code` with stdout `out` (when given) and stderr holding `err`."""
        got, stdout, stderr = self.ctl(*words)
        ok = got == code and (out is None or stdout == out) and (err is None or err in stderr)
        said = (stdout or stderr).strip().splitlines() or [""]
        check("nvgre-ctl " + " ".join(words).replace(work, "WORKDIR"), ok,
              f"exit {got}: {said[0]!r}" + (f" and {len(said) - 1} more lines" if len(said) > 1 else ""))
        return stdout

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def counters_of(text):
    """{name: value} of a counters block."""
    values = {}
    for line in text.splitlines():
        *name, value = line.split()
        if name and value.isdigit():
            values[" ".join(name)] = int(value)
    return values


def control_on_rings(sockets):
    """Memory-only ring ports (no root): change sets, the ports, the counters, a detach."""
    good_cs = os.path.join(work, "good.cs")
    bad_cs = os.path.join(work, "bad.cs")
    with open(good_cs, "w") as f:
        f.write(GOOD_CHANGE_SET)
    with open(bad_cs, "w") as f:
        f.write(BAD_CHANGE_SET)
    sw = running_switch(eal(vdevs=["net_ring_fab", "net_ring_vm0"]) + good
                        + ["--fabric", "net_ring_fab", "--vm", "net_ring_vm0=red-web"],
                        os.path.join(sockets, "rings.sock"), os.path.join(work, "control-rings.log"))
    try:
        check("nvgre-dpdk --control on ring ports starts", sw.ready and ", control " in sw.text(), sw.text().strip()[-200:])
        if not sw.ready:
            return
        sw.expect(["show", "generation"], 0, "generation 1\n")
        sw.expect(["apply", good_cs], 0, "generation 2\n")
        code, out, err = sw.ctl("apply", bad_cs)
        lines = err.strip().splitlines()
        check("nvgre-ctl apply BAD (two errors)",
              code == 1 and out == "" and len(lines) == 2 and lines[0].startswith(bad_cs + ":1:3: error: cannot remove routing-domain")
              and lines[1].startswith(bad_cs + ":2:62: error: pa 192.168.10.99"),
              f"exit {code}: {' | '.join(line.replace(work, 'WORKDIR') for line in lines)}")
        sw.expect(["show", "generation"], 0, "generation 2\n")
        sw.expect(["show", "ports"], 0, "port 0 net_ring_vm0 00:15:5d:00:00:05 vsid 5001\n")
        out = sw.expect(["show", "counters"], 0)
        c = counters_of(out)
        check("show counters: every counter, the ports and the generation",
              out.startswith("nvgre-dpdk hv1: counters\n") and out.endswith("nvgre-dpdk hv1: end of counters\n")
              and all(f"verdict {v}" in c for v in ("encap", "deliver", "drop")) and "port net_ring_vm0 rx" in c
              and "tx-no-port" in c and c.get("generation") == 2, f"{len(out.splitlines())} lines")
        sw.expect(["attach", "net_ring_vm1=red-web"], 1, err="00:15:5d:00:00:05 is already attached on 'net_ring_vm0'")
        sw.expect(["attach", "x=nobody"], 1, err="no VM 'nobody' in the policy")
        sw.expect(["attach", "nvgre-nonesuch=red-app"], 1, err="no interface 'nvgre-nonesuch'")
        sw.expect(["detach", "nvgre-nonesuch"], 1, err="no attached port 'nvgre-nonesuch'")
        sw.expect(["detach", "net_ring_fab"], 1, err="no attached port 'net_ring_fab'")
        # A ring port has no Linux interface: it is detached by its ethdev name (hot-unplugged).
        sw.expect(["detach", "net_ring_vm0"], 0, "detached net_ring_vm0 (port 0)\n")
        sw.expect(["show", "ports"], 0, "")
        out = sw.expect(["show", "counters"], 0)
        check("a detached port leaves the counters", "port net_ring_vm0" not in out and "port net_ring_fab rx" in out,
              "port net_ring_vm0 " + ("still there" if "port net_ring_vm0" in out else "gone"))
    finally:
        code = sw.stop()
    final = counters_of(sw.text().rsplit(": counters\n", 1)[-1])
    check("SIGTERM after the commands", code == 0 and final.get("generation") == 2,
          f"exit {code}, final counters with generation {final.get('generation')}")


def control_with_veth(sockets):
    """As root, in a namespace of its own: a VM port attached on a veth and detached again."""
    netns = f"nvgre-dpdk-ctl-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    sw = None
    try:
        for cmd in (["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"],
                    ["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "vm0", "type", "veth", "peer", "name", "vm0p"],
                    ["ip", "link", "set", "vm0", "up"], ["ip", "link", "set", "vm0p", "up"]):
            subprocess.run(["ip", "netns", "exec", netns] + cmd, check=True)

        def probe(seconds=2):
            p = subprocess.run(["ip", "netns", "exec", netns, sys.executable, os.path.abspath(__file__), "_arp_probe",
                                "vm0p", str(seconds)], capture_output=True, text=True, timeout=30)
            return p.stdout.strip() or p.stderr.strip()

        # No --vm: every VM port comes with attach.
        sw = running_switch(eal(vdevs=["net_ring_fab"]) + good + ["--fabric", "net_ring_fab"],
                            os.path.join(sockets, "veth.sock"), os.path.join(work, "control-veth.log"), netns=netns)
        check("nvgre-dpdk --control without --vm starts", sw.ready, sw.text().strip()[-200:])
        if not sw.ready:
            return
        sw.expect(["apply", os.path.join(work, "good.cs")], 0, "generation 2\n")
        # red-app is a name of the policy in force now (the change set brought it).
        sw.expect(["attach", "vm0=red-app"], 0, f"port 0 vm0 {RED_APP_MAC}\n")
        sw.expect(["show", "ports"], 0, f"port 0 vm0 {RED_APP_MAC} vsid 5001\n")
        sw.expect(["attach", "vm0=red-web"], 1, err="'vm0' is already attached")
        answered = probe()
        c = counters_of(sw.ctl("show", "counters")[1])
        check("an attached port is polled: red-app's ARP request for 10.0.0.6 is answered by the proxy",
              answered == "reply from 00:15:5d:00:00:06" and c.get("port net_af_packet_vm0 rx", 0) > 0
              and c.get("verdict reply", 0) > 0,
              f"{answered}; port net_af_packet_vm0 rx {c.get('port net_af_packet_vm0 rx')}, verdict reply {c.get('verdict reply')}")
        sw.expect(["detach", "vm0"], 0, "detached vm0 (port 0)\n")
        sw.expect(["show", "ports"], 0, "")
        answered = probe(1)
        check("a detached port is not polled: no answer", answered == "no reply", answered)

        # Attach and detach while the VM sends a frame every millisecond: the workers leave a
        # port before it is closed, each time.
        replies_before = counters_of(sw.ctl("show", "counters")[1]).get("verdict reply", 0)
        flood = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, os.path.abspath(__file__), "_arp_flood",
                                  "vm0p", "4"], stdout=subprocess.PIPE, text=True)
        cycles = []
        for i in range(8):
            mac_or_name = RED_APP_MAC if i % 2 else "red-app"
            cycles.append(sw.ctl("attach", f"vm0={mac_or_name}")[0])
            time.sleep(0.15)
            cycles.append(sw.ctl("detach", "vm0")[0])
        flood.wait(timeout=30)
        replies = counters_of(sw.ctl("show", "counters")[1]).get("verdict reply", 0) - replies_before
        check("8 attach/detach cycles of vm0 while red-app sent every 1 ms",
              cycles == [0] * 16 and sw.proc.poll() is None and replies > 0,
              f"exit statuses {cycles}; {flood.stdout.read().strip()}, answered while attached: verdict reply +{replies}; "
              f"switch {'running' if sw.proc.poll() is None else 'GONE'}")
        sw.expect(["attach", f"vm0={RED_APP_MAC}"], 0, f"port 0 vm0 {RED_APP_MAC}\n")
        answered = probe()
        check("attached again: answered again", answered == "reply from 00:15:5d:00:00:06", answered)
    finally:
        code = sw.stop() if sw else 0
        subprocess.run(["ip", "netns", "del", netns])
    check("SIGTERM with a hot-plugged port attached", code == 0 and "end of counters" in sw.text(), f"exit {code}")


if root and subprocess.run(["ip", "netns", "list"], capture_output=True).returncode == 0:
    signals()
else:
    print("skipped the port and signal checks: they need root (AF_PACKET, a network namespace of their own)")

# sun_path holds 107 bytes and build trees can be deeper: the sockets live in a short directory.
sockets = tempfile.mkdtemp(prefix="nvgre-dpdk-ctl-")
try:
    control_on_rings(sockets)
    if root and subprocess.run(["ip", "netns", "list"], capture_output=True).returncode == 0:
        control_with_veth(sockets)
    else:
        print("skipped attach and detach of a veth: they need root (a network namespace of their own, AF_PACKET)")
finally:
    shutil.rmtree(sockets, ignore_errors=True)
print(f"{failures} failures")
sys.exit(1 if failures else 0)
