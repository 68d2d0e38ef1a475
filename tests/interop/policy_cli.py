#!/usr/bin/python3
"""`nvgre-pcap policy` (docs/nvgre-pcap.md) against docs/policy-format.md.

  policy_cli.py NVGRE_PCAP EXAMPLE_POLICY WORK_DIR

The example policy prints exactly the counts line of docs/nvgre-pcap.md and exits 0. Broken policies,
written to WORK_DIR (one per validation rule of docs/policy-format.md, and some with several
errors), exit 1 with exactly the expected `FILE:LINE:COL: error: TEXT` lines on stderr, in line
order, all of them. An unreadable file and bad arguments exit 1 with one line.
"""
import os
import subprocess
import sys

CLI_MD_COUNTS = ('{"hosts":2,"provider_addresses":2,"routing_domains":2,"virtual_subnets":2,'
                 '"customer_routes":2,"lookup_records":4}')

RED = "{11111111-1111-1111-1111-111111111111}"
BLUE = "{22222222-2222-2222-2222-222222222222}"
GREEN = "{33333333-3333-3333-3333-333333333333}"

# The example of docs/policy-format.md (14 lines); broken policies append lines 15, 16, ...
EXAMPLE = """\
provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b
provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c

routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red
virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0
lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web
lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db

routing-domain rdid={22222222-2222-2222-2222-222222222222} name=blue
virtual-subnet vsid=6001 rdid={22222222-2222-2222-2222-222222222222} gateway=10.0.0.1
customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=10.0.0.0/24 next-hop=0.0.0.0
lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.10.11 vm=blue-web
lookup-record vsid=6001 ca=10.0.0.6 mac=00:15:5d:00:01:06 pa=192.168.10.12 vm=blue-db
"""
EXAMPLE_LINES = 14


def col(text, needle, nth=1):
    """1-based column of the nth `needle` in `text`; a needle ending in '=' means the value after it."""
    pos = -1
    for _ in range(nth):
        pos = text.index(needle, pos + 1)
    if len(needle) > 1 and needle.endswith("="):
        pos += len(needle)
    return pos + 1


def one(line, needle, message, nth=1):
    """A case: the example plus `line`, one error at `needle` of line 15."""
    return [line], [(EXAMPLE_LINES + 1, col(line, needle, nth), message)]


def cases():
    c = []
    add = lambda name, case: c.append((name,) + case)  # noqa: E731
    lr = "lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11"
    # Unknown kind or key, a missing required key, a key twice on one line.
    add("unknown kind", one("frobnicate x=1", "frobnicate", "unknown object kind 'frobnicate'"))
    add("unknown key", one("routing-domain rdid=%s colour=green" % GREEN, "colour", "unknown key 'colour' for routing-domain"))
    add("missing key", one("  provider-address host=hv3 pa=192.168.10.13 prefix-length=24", "provider",
                           "missing required key 'mac' for provider-address"))
    add("key twice", one("routing-domain rdid=%s name=a name=b" % GREEN, "name", "key 'name' given twice", 2))
    # Malformed values.
    add("malformed MAC", one("provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a", "mac=",
                             "malformed MAC address '02:00:c0:a8:0a' for mac"))
    add("malformed IP", one("provider-address host=hv3 pa=192.168.10.256 prefix-length=24 mac=02:00:c0:a8:0a:0d", "pa=",
                            "malformed IP address '192.168.10.256' for pa"))
    add("malformed IPv6", one(lr.replace("ca=10.0.0.9", "ca=fd00::1::2"), "ca=", "malformed IP address 'fd00::1::2' for ca"))
    add("malformed GUID", one("routing-domain rdid={3333-3333}", "rdid=", "malformed GUID '{3333-3333}' for rdid"))
    add("malformed VSID", one(lr.replace("vsid=5001", "vsid=5k"), "vsid=", "malformed VSID '5k' for vsid"))
    add("malformed name", one(lr + " vm=red/web", "vm=", "vm 'red/web' is not a valid name (letters, digits, '-', '_', '.')"))
    add("malformed prefix", one("customer-route rdid=%s vsid=5001 prefix=10.1.0.0 next-hop=0.0.0.0" % RED, "prefix=",
                                "malformed prefix '10.1.0.0' for prefix (IP/length)"))
    add("malformed rule", one(lr + " rule=snat", "rule=", "rule must be encap or nat, not 'snat'"))
    add("gateway: two IPv4", one("virtual-subnet vsid=5002 rdid=%s gateway=10.0.0.1,10.0.1.1" % RED, "gateway=",
                                 "gateway lists two IPv4 addresses (at most one IPv4 and one IPv6)"))
    add("vlan range", one("provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a:0d vlan=4095",
                          "vlan=", "vlan 4095 is outside 0..4094"))
    # VSID outside 4096-16777214; prefix length too long; host bits set.
    add("VSID 4095", one(lr.replace("vsid=5001", "vsid=4095"), "vsid=", "VSID 4095 is outside 4096-16777214"))
    add("VSID 16777215", one(lr.replace("vsid=5001", "vsid=16777215"), "vsid=", "VSID 16777215 is outside 4096-16777214"))
    add("prefix too long", one("customer-route rdid=%s vsid=5001 prefix=10.1.0.0/33 next-hop=0.0.0.0" % RED, "prefix=",
                               "prefix length 33 is too long for IPv4 (at most 32)"))
    add("prefix-length too long", one("provider-address host=hv3 pa=192.168.10.13 prefix-length=33 mac=02:00:c0:a8:0a:0d",
                                      "prefix-length=", "prefix-length 33 is too long for an IPv4 pa (at most 32)"))
    add("host bits", one("customer-route rdid=%s vsid=5001 prefix=10.1.0.1/16 next-hop=0.0.0.0" % RED, "prefix=",
                         "host bits set in prefix 10.1.0.1/16 (the prefix is 10.1.0.0/16)"))
    # A routing domain declared twice; a VSID declared twice or in two routing domains.
    add("domain twice", one("routing-domain rdid=%s name=red2" % RED, "rdid",
                            "routing domain %s is already declared (see line 4)" % RED))
    add("VSID twice", one("virtual-subnet vsid=5001 rdid=%s" % RED, "vsid", "virtual subnet 5001 is already declared (see line 5)"))
    add("VSID in two domains", one("virtual-subnet vsid=5001 rdid=%s" % BLUE, "vsid",
                                   "virtual subnet 5001 is already declared in routing domain %s (see line 5)" % RED))
    # References to undeclared routing domains or VSIDs; a route's VSID in another domain.
    add("undeclared domain", one("virtual-subnet vsid=7001 rdid=%s" % GREEN, "rdid",
                                 "routing domain %s is not declared" % GREEN))
    add("undeclared VSID", one(lr.replace("vsid=5001", "vsid=7001"), "vsid", "virtual subnet 7001 is not declared"))
    add("route VSID of another domain", one("customer-route rdid=%s vsid=6001 prefix=10.1.0.0/16 next-hop=0.0.0.0" % RED, "vsid",
                                            "virtual subnet 6001 is in routing domain %s, not in %s (see line 11)" % (BLUE, RED)))
    # The same CA twice in one routing domain; gateway-wildcard.
    add("same CA", one(lr.replace("10.0.0.9", "10.0.0.5"), "ca", "ca 10.0.0.5 is already used in virtual subnet 5001 (see line 7)"))
    add("gateway-wildcard ca", one(lr + " type=gateway-wildcard", "ca=",
                                   "a gateway-wildcard record needs ca 0.0.0.0 or ::, not 10.0.0.9"))
    # A record whose pa is not a declared provider address.
    add("undeclared PA", one(lr.replace("192.168.10.11", "192.168.10.99"), "pa",
                             "pa 192.168.10.99 is not a declared provider address"))
    # nat: shared PA; different IP versions.
    add("nat shared PA", one(lr + " rule=nat", "pa",
                             "pa 192.168.10.11 of a nat record is already used by another lookup record (see line 7)"))
    pa6 = "provider-address host=hv1 pa=fd00:f::9 prefix-length=64 mac=02:00:c0:a8:0a:0b"
    nat6 = lr.replace("192.168.10.11", "fd00:f::9") + " rule=nat"
    add("nat versions", ([pa6, nat6], [(16, col(nat6, "pa="), "a nat record needs ca and pa of one IP version "
                                                              "(ca 10.0.0.9 is IPv4, pa fd00:f::9 is IPv6)")]))
    # The same MAC in two VSIDs on one host.
    add("MAC in two VSIDs", one("lookup-record vsid=6001 ca=10.0.0.9 mac=00:15:5d:00:00:05 pa=192.168.10.11", "mac",
                                "mac 00:15:5d:00:00:05 is already in virtual subnet 5001 on host hv1 (see line 7)"))
    # Several errors: all reported, in line order; a conflict at the later line.
    a = "bogus line"
    b = "routing-domain rdid=%s" % RED
    d = "lookup-record vsid=99 ca=10.0.0.9 mac=00:15:5d:00:00:zz pa=192.168.10.11 colour=red"
    add("several errors", ([a, b, "# fine", d], [
        (15, 1, "unknown object kind 'bogus'"),
        (16, col(b, "rdid"), "routing domain %s is already declared (see line 4)" % RED),
        (18, col(d, "vsid="), "VSID 99 is outside 4096-16777214"),
        (18, col(d, "mac="), "malformed MAC address '00:15:5d:00:00:zz' for mac"),
        (18, col(d, "colour"), "unknown key 'colour' for lookup-record"),
    ]))
    return c


def run(tool, args):
    return subprocess.run([tool] + args, capture_output=True)


def main(tool, example, work):
    os.makedirs(work, exist_ok=True)
    failures = 0
    total = 0

    def report(name, problems, shown):
        nonlocal failures, total
        total += 1
        print("%-40s %s  %s" % (name, "ok    " if not problems else "FAILED", shown))
        for p in problems:
            print("    " + p)
        failures += bool(problems)

    # The example: the counts of docs/nvgre-pcap.md.
    r = run(tool, ["policy", example])
    problems = []
    if r.returncode != 0:
        problems.append("exit %d, stderr %r" % (r.returncode, r.stderr))
    if r.stdout.decode() != CLI_MD_COUNTS + "\n":
        problems.append("stdout %r, expected %r" % (r.stdout, CLI_MD_COUNTS))
    if r.stderr:
        problems.append("stderr %r" % r.stderr)
    report("example: counts of docs/nvgre-pcap.md", problems, r.stdout.decode().strip())

    # The docs/policy-format.md example text itself, written here, loads the same.
    path = os.path.join(work, "example.policy")
    with open(path, "w") as f:
        f.write(EXAMPLE)
    r = run(tool, ["policy", path])
    report("docs/policy-format.md example", [] if r.returncode == 0 and r.stdout.decode() == CLI_MD_COUNTS + "\n"
           else ["exit %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr)], r.stdout.decode().strip())

    # Broken policies.
    for i, (name, extra, expected) in enumerate(cases()):
        path = os.path.join(work, "broken-%02d.policy" % i)
        with open(path, "w") as f:
            f.write(EXAMPLE + "".join(line + "\n" for line in extra))
        r = run(tool, ["policy", path])
        want = ["%s:%d:%d: error: %s" % (path, ln, cl, msg) for ln, cl, msg in expected]
        got = r.stderr.decode(errors="replace").splitlines()
        problems = []
        if r.returncode != 1:
            problems.append("exit %d, expected 1" % r.returncode)
        if r.stdout:
            problems.append("stdout %r" % r.stdout)
        if got != want:
            problems.append("stderr:\n      " + "\n      ".join(got) + "\n    expected:\n      " + "\n      ".join(want))
        report(name, problems, got[0][len(path):] if got else "")

    # Hostile bytes: never a crash, exit 1 with error lines.
    path = os.path.join(work, "garbage.policy")
    with open(path, "wb") as f:
        f.write(b"\x00\xff=\r\n==\n\tlookup-record ====\x00 vsid=\xc3\xa9\n" + b"x" * 100000 + b"\n")
    r = run(tool, ["policy", path])
    lines = r.stderr.decode(errors="replace").splitlines()
    ok = r.returncode == 1 and len(lines) >= 4 and all(l.startswith(path + ":") and ": error: " in l for l in lines)
    report("garbage bytes", [] if ok else ["exit %d, stderr %r" % (r.returncode, r.stderr[:300])], "%d error lines" % len(lines))

    # An unreadable file and bad arguments: exit 1, one line.
    missing = os.path.join(work, "does-not-exist.policy")
    for name, args, want in [
        ("missing file", ["policy", missing], "%s: error: cannot read: No such file or directory" % missing),
        ("a directory", ["policy", work], None),
        ("no argument", ["policy"], None),
        ("two arguments", ["policy", example, example], None),
    ]:
        r = run(tool, args)
        got = r.stderr.decode(errors="replace").splitlines()
        problems = []
        if r.returncode != 1:
            problems.append("exit %d, expected 1" % r.returncode)
        if len(got) != 1:
            problems.append("%d lines on stderr, expected 1: %r" % (len(got), r.stderr))
        elif want is not None and got[0] != want:
            problems.append("stderr %r, expected %r" % (got[0], want))
        report(name, problems, got[0] if got else "")

    print("policy_cli: %d cases, %d failed" % (total, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
