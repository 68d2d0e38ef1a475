#!/usr/bin/python3
"""nvgre-switch's failures: every bad start exits 1 with one clear line on stderr, before it
touches any traffic. Usage: switch_cli.py NVGRE_SWITCH DEMO_POLICY WORKDIR"""
import os
import shutil
import subprocess
import sys
import tempfile

from switch_signals import check_signals

switch, policy, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
failures = 0


def expect(args, needle, code=1, user=None, program=None):
    global failures
    cmd = [program or switch] + args
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    err = p.stderr.strip()
    ok = p.returncode == code and needle in (err if code else p.stdout) and (code == 0 or len(err.splitlines()) == 1)
    print(f"{'ok  ' if ok else 'FAIL'} {' '.join(args)[:90]!r}: exit {p.returncode}: {err or p.stdout.strip()}")
    failures += not ok


good = ["--policy", policy, "--host", "hv1"]
expect(["--help"], "usage: nvgre-switch", code=0)
expect([], "one of --policy FILE and --ovsdb REMOTES is required")
expect(["--policy", policy, "--ovsdb", "tcp:127.0.0.1:6641", "--host", "hv1", "--fabric", "lo", "--vm", "x=red-web"],
       "one of --policy FILE and --ovsdb REMOTES is required")
expect(["--ovsdb", "tcp:127.0.0.1", "--host", "hv1", "--fabric", "lo", "--vm", "x=red-web"], "not tcp:IP:PORT or unix:PATH")
expect(["--policy", policy, "--host", "hv1"], "--host, --fabric and at least one --vm (or --control")
expect(good + ["--fabric", "lo", "--vm", "red-web=red-web", "--bogus", "1"], "unknown option '--bogus'")
expect(good + ["--fabric"], "option '--fabric' needs a value")
expect(good + ["--fabric", "lo", "--vm", "red-web"], "--vm wants IFACE=MAC or IFACE=VM-NAME")
expect(good + ["--fabric", "lo", "--vm", "x=red-web", "--underlay-mtu", "99"], "--underlay-mtu wants a number")
missing = os.path.join(work, "missing.policy")
expect(["--policy", missing, "--host", "hv1", "--fabric", "lo", "--vm", "x=red-web"], f"{missing}: error: cannot read")
broken = os.path.join(work, "broken.policy")
with open(broken, "w") as f:
    f.write("provider-address host=hv1 pa=192.168.10.300 prefix-length=24 mac=02:00:c0:a8:0a:0b\n")
expect(["--policy", broken, "--host", "hv1", "--fabric", "lo", "--vm", "x=red-web"], f"{broken}:1:")
expect(["--policy", policy, "--host", "hv9", "--fabric", "lo", "--vm", "x=red-web"], "host 'hv9' owns no provider address")
expect(good + ["--fabric", "nvgre-nonesuch", "--vm", "x=red-web"], "no interface 'nvgre-nonesuch'")
if os.geteuid() == 0:
    # The VM must be one of this host's (red-db runs on hv2), and a missing VM port is named.
    expect(good + ["--fabric", "lo", "--vm", "lo=red-db"], "--vm lo=red-db: no VM of host 'hv1'")
    expect(good + ["--fabric", "lo", "--vm", "nvgre-nonesuch=red-web"], "no interface 'nvgre-nonesuch'")
    # Without CAP_NET_RAW: as nobody, with a copy of the switch and the policy it can reach
    # (the build tree may sit below a directory only root may enter).
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        program = shutil.copy(switch, tmp)
        readable = shutil.copy(policy, tmp)
        expect(["--policy", readable, "--host", "hv1", "--fabric", "lo", "--vm", "lo=red-web"],
               "needs CAP_NET_RAW (run as root)", user=65534, program=program)
else:
    expect(good + ["--fabric", "lo", "--vm", "lo=red-web"], "needs CAP_NET_RAW (run as root)")


def signals():
    """As root, in a namespace of its own (only its loopback): SIGUSR1 prints every counter and
    the switch goes on; SIGINT and SIGTERM print them and exit 0."""
    global failures
    netns = f"nvgre-cli-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        failures += check_signals(netns, [switch] + good + ["--fabric", "lo", "--vm", "lo=red-web"], work,
                                  required=["drop unsupported"])
    finally:
        subprocess.run(["ip", "netns", "del", netns])


if os.geteuid() == 0 and subprocess.run(["ip", "netns", "list"], capture_output=True).returncode == 0:
    signals()
else:
    print("skipped the signal checks: they need root (a network namespace of their own)")
print(f"{failures} failures")
sys.exit(1 if failures else 0)
