#!/usr/bin/python3
"""`nvgre-pcap policy` (docs/nvgre-pcap.md) against docs/policy-format.md.

  policy_cli.py NVGRE_PCAP EXAMPLE_POLICY WORK_DIR [TWO_TENANTS_POLICY]

The example policy prints exactly the counts line of docs/nvgre-pcap.md and exits 0. Broken policies,
written to WORK_DIR (one per validation rule of docs/policy-format.md, and some with several
errors), exit 1 with exactly the expected `FILE:LINE:COL: error: TEXT` lines on stderr, in line
order, all of them. An unreadable file and bad arguments exit 1 with one line.

`policy format / diff / apply` (canonical text and change sets) on TWO_TENANTS_POLICY (default:
examples/policies/two-tenants.policy of this checkout) and a changed copy of it written to
WORK_DIR: `format` gives one text for any spelling of a policy and reads back to itself; `apply A
CHANGES` with CHANGES = `diff A B` (in a file, through /dev/stdin and through bash's process
substitution) prints exactly what `format B` prints, and `diff A A` prints nothing; a broken
change set exits 1 with every error as `CHANGES:LINE:COL: error: TEXT` and nothing on stdout; an
invalid policy exits 1 with the errors `policy` prints for it.
"""
import os
import re
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


# ---- policy format / diff / apply ---------------------------------------------------------------

# Changes to two-tenants.policy (each a (old, new) replacement of its text; new "" drops the line):
# red-db moves from hv2 to hv1, blue-nat2 goes, blue's router MAC goes back to the default, hv3's
# PA gets a VLAN, the provider route a metric (a new identity), and the PA of blue-nat1 moves from
# hv1 to hv3 (its record stays); red gets a subnet 5003 with an on-link route.
TWO_TENANTS_CHANGES = [
    ("mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db", "mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db"),
    ("lookup-record vsid=6001 ca=10.0.0.8 mac=00:15:5d:00:01:08 pa=192.168.10.22 rule=nat vm=blue-nat2\n", ""),
    ("name=blue router-mac=02:00:5e:00:02:02", "name=blue"),
    ("mac=02:00:c0:a8:14:0d\n", "mac=02:00:c0:a8:14:0d vlan=42\n"),
    ("next-hop-mac=02:00:00:00:00:fe\n", "next-hop-mac=02:00:00:00:00:fe metric=10\n"),
    ("host=hv1 pa=192.168.10.21", "host=hv3 pa=192.168.10.21"),
    ("virtual-subnet vsid=5002 ", "virtual-subnet vsid=5003 rdid=%s gateway=10.0.3.1\n"
                                  "customer-route rdid=%s vsid=5003 prefix=10.0.3.0/24 next-hop=0.0.0.0\n"
                                  "virtual-subnet vsid=5002 " % (RED, RED)),
]

# What `policy diff` prints for them: removals first (records before routes, subnets, domains and
# provider addresses), then additions and replacements in canonical order.
TWO_TENANTS_DIFF = """\
- lookup-record vsid=6001 ca=10.0.0.8
- provider-route host=hv1 prefix=192.168.20.0/24
- provider-address host=hv1 pa=192.168.10.21
+ provider-address host=hv3 pa=192.168.10.21 prefix-length=24 mac=02:00:c0:a8:0a:15
+ provider-address host=hv3 pa=192.168.20.13 prefix-length=24 mac=02:00:c0:a8:14:0d vlan=42
+ provider-route host=hv1 prefix=192.168.20.0/24 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:fe metric=10
+ routing-domain rdid={22222222-2222-2222-2222-222222222222} name=blue
+ virtual-subnet vsid=5003 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.3.1
+ customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5003 prefix=10.0.3.0/24 next-hop=0.0.0.0
+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db
+ lookup-record vsid=5001 ca=fd00::6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db
"""

# A change set against two-tenants.policy with one error of each kind (and one good line):
# (line, needle, message); the column is the needle's (a needle "key=" stands for the value).
BAD_CHANGES = [
    "# broken on purpose",
    "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db",
    "- lookup-record vsid=5001 ca=0.0.0.0",
    "- virtual-subnet vsid=5002",
    "lookup-record vsid=5001 ca=10.0.0.7",
    "- lookup-record vsid=5001 ca=10.0.0.6",
    "+ lookup-record vsid=6001 ca=10.0.0.9 mac=00:15:5d:00:01:09 pa=192.168.10.99",
    "- routing-domain rdid={33333333-3333-3333-3333-333333333333}",
    "+ lookup-record vsid=6001 ca=10.0.0.10 mac=00:15:5d:00:01:zz pa=192.168.10.11",
]
BAD_CHANGES_ERRORS = [
    (3, "lookup-record", "removing a gateway-wildcard lookup record needs its mac (several NICs may be gateways of the VSID)"),
    (4, "virtual-subnet", "cannot remove virtual-subnet vsid=5002: still used by 2 objects (customer-route rdid=%s "
                          "vsid=5002 prefix=10.0.1.0/24)" % RED),
    (5, "lookup-record", "a change set line starts with '+ ' (add or replace) or '- ' (remove), not 'lookup-record'"),
    (6, "lookup-record", "lookup-record vsid=5001 ca=10.0.0.6 is already changed by line 2 of this change set "
                         "(one line per object)"),
    (7, "pa", "pa 192.168.10.99 is not a declared provider address"),
    (8, "routing-domain", "cannot remove routing-domain rdid={33333333-3333-3333-3333-333333333333}: the policy has no "
                          "such object"),
    (9, "mac=", "malformed MAC address '00:15:5d:00:01:zz' for mac"),
]


def respell(text):
    """The same policy spelled otherwise: lines reversed (references before declarations), a
    comment and blank lines, keys reversed, MACs upper-case with dashes, GUIDs without braces and
    upper-case, IPv6 written long, defaults written out."""
    out = ["# two-tenants.policy, respelled", ""]
    for line in reversed(text.splitlines()):
        line = line.split("#")[0].strip()
        if not line:
            continue
        kind, *pairs = line.split()
        pairs = [p.split("=", 1) for p in pairs]
        keys = {k for k, _ in pairs}
        respelled = []
        for k, v in reversed(pairs):
            if re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", v):
                v = v.upper().replace(":", "-")
            elif v.startswith("{"):
                v = v[1:-1].upper()
            elif v == "fd00::1,10.0.0.1" or v == "10.0.0.1,fd00::1":
                v = "FD00:0:0:0:0:0:0:1,10.0.0.1"
            elif v.startswith("fd00::"):
                v = "fd00:0::" + v[len("fd00::"):].upper()
            respelled.append("%s=%s" % (k, v))
        if kind == "provider-address" and "vlan" not in keys:
            respelled.append("vlan=0")
        if kind == "customer-route" and "metric" not in keys:
            respelled.append("metric=256")
        if kind == "lookup-record" and "rule" not in keys:
            respelled.append("rule=encap")
        if kind == "routing-domain" and "router-mac" not in keys:
            respelled.append("router-mac=02:00:5E:00:01:01")
        out.append("\t".join([kind] + respelled))
        out.append("")
    return "\n".join(out) + "\n"


def policy_text_cases(tool, two_tenants, work):
    """`policy format / diff / apply`: (name, problems, shown) per case."""
    results = []
    work = os.path.join(work, "text")
    os.makedirs(work, exist_ok=True)

    def write(name, text):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def expect(name, args, rc=0, stdout=None, stderr=None, stderr_lines=None, shell=False):
        r = subprocess.run(args if shell else [tool] + args, capture_output=True, shell=shell,
                           executable="/bin/bash" if shell else None)
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        problems = []
        if r.returncode != rc:
            problems.append("exit %d, expected %d (stderr %r)" % (r.returncode, rc, err[:300]))
        if stdout is not None and out != stdout:
            problems.append("stdout:\n      " + "\n      ".join(out.splitlines()) +
                            "\n    expected:\n      " + "\n      ".join(stdout.splitlines()))
        if stderr is not None and err != stderr:
            problems.append("stderr:\n      " + "\n      ".join(err.splitlines()) +
                            "\n    expected:\n      " + "\n      ".join(stderr.splitlines()))
        if stderr_lines is not None and len(err.splitlines()) != stderr_lines:
            problems.append("%d lines on stderr, expected %d: %r" % (len(err.splitlines()), stderr_lines, err))
        shown = (err.splitlines() or out.splitlines() or [""])[0]
        results.append((name, problems, shown[:90]))
        return out

    with open(two_tenants) as f:
        a_text = f.read()
    b_text = a_text
    for old, new in TWO_TENANTS_CHANGES:
        assert old in b_text, old
        b_text = b_text.replace(old, new)
    a = two_tenants
    b = write("two-tenants-changed.policy", b_text)

    # format: one text whatever the spelling; it reads back to itself, with the same counts.
    canonical_a = expect("format A", ["policy", "format", a], stdout=None, stderr="")
    canonical_b = expect("format B", ["policy", "format", b], stderr="")
    lines = canonical_a.splitlines()
    bad = [l for l in lines if not l or l.startswith("#")]
    # two-tenants.policy: 5 provider addresses, 1 provider route, 2 domains, 3 subnets, 4 routes, 12 records.
    results.append(("format A: 27 objects, no comments", ["lines %r" % bad] if bad or len(lines) != 27 else [],
                    "%d lines" % len(lines)))
    respelled = write("two-tenants-respelled.policy", respell(a_text))
    expect("format of A respelled = format A", ["policy", "format", respelled], stdout=canonical_a, stderr="")
    formatted = write("two-tenants-canonical.policy", canonical_a)
    expect("format (format A) = format A", ["policy", "format", formatted], stdout=canonical_a, stderr="")
    counts = run(tool, ["policy", a]).stdout.decode()
    expect("counts of format A = counts of A", ["policy", formatted], stdout=counts, stderr="")

    # diff and apply: apply A (diff A B) prints format B, byte for byte.
    d = expect("diff A B", ["policy", "diff", a, b], stdout=TWO_TENANTS_DIFF, stderr="")
    changes = write("a-to-b.changes", d)
    expect("apply A CHANGES (a file) = format B", ["policy", "apply", a, changes], stdout=canonical_b, stderr="")
    r = subprocess.run("%s policy diff %s %s | %s policy apply %s /dev/stdin" % (tool, a, b, tool, a), shell=True,
                       capture_output=True)
    results.append(("diff A B | apply A /dev/stdin = format B",
                    [] if r.returncode == 0 and r.stdout.decode() == canonical_b and not r.stderr
                    else ["exit %d, stderr %r" % (r.returncode, r.stderr)], ""))
    if os.path.exists("/bin/bash"):
        expect("apply A <(diff A B) = format B",
               "'%s' policy apply '%s' <('%s' policy diff '%s' '%s')" % (tool, a, tool, a, b), stdout=canonical_b,
               stderr="", shell=True)
    back = write("b-to-a.changes", expect("diff B A", ["policy", "diff", b, a], stderr=""))
    expect("apply B (diff B A) = format A", ["policy", "apply", b, back], stdout=canonical_a, stderr="")
    expect("diff A A is empty", ["policy", "diff", a, a], stdout="", stderr="")
    expect("diff A (format A) is empty", ["policy", "diff", a, formatted], stdout="", stderr="")
    expect("diff A (A respelled) is empty", ["policy", "diff", a, respelled], stdout="", stderr="")
    empty = write("empty.changes", "# nothing\n\n")
    expect("apply A (empty change set) = format A", ["policy", "apply", a, empty], stdout=canonical_a, stderr="")
    expect("diff (empty policy) A = A, all '+ '", ["policy", "diff", empty, a],
           stdout="".join("+ " + l + "\n" for l in lines), stderr="")

    # A broken change set: every error, at its line; nothing on stdout.
    bad_changes = write("bad.changes", "\n".join(BAD_CHANGES) + "\n")
    want = "".join("%s:%d:%d: error: %s\n" % (bad_changes, ln, col(BAD_CHANGES[ln - 1], needle), msg)
                   for ln, needle, msg in BAD_CHANGES_ERRORS)
    expect("apply A (broken change set)", ["policy", "apply", a, bad_changes], rc=1, stdout="", stderr=want)
    # Two of its lines alone.
    for n in (4, 6):
        one = write("bad-%d.changes" % n, "\n".join(BAD_CHANGES[:n]) + "\n")
        want = "".join("%s:%d:%d: error: %s\n" % (one, ln, col(BAD_CHANGES[ln - 1], needle), msg)
                       for ln, needle, msg in BAD_CHANGES_ERRORS if ln <= n)
        expect("apply A (the first %d lines)" % n, ["policy", "apply", a, one], rc=1, stdout="", stderr=want)
    # A change set that leaves an invalid policy: the line that does it.
    moved = write("moved.changes", "+ virtual-subnet vsid=6001 rdid=%s gateway=10.0.0.1\n" % RED)
    r = run(tool, ["policy", "apply", a, moved])
    err = r.stderr.decode().splitlines()
    ok = (r.returncode == 1 and not r.stdout and err and all(l.startswith(moved + ":1:3: error: makes ") for l in err))
    results.append(("apply A (subnet moved to another domain)", [] if ok else ["exit %d, stderr %r" % (r.returncode, err)],
                    err[0][len(moved):][:90] if err else ""))

    # Invalid policies: the errors `policy` prints for them, nothing on stdout.
    broken = write("broken.policy", EXAMPLE + "lookup-record vsid=7001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.99\n")
    broken_errors = run(tool, ["policy", broken]).stderr.decode()
    results.append(("(the broken policy has two errors)", [] if len(broken_errors.splitlines()) == 2 else [broken_errors], ""))
    expect("format (invalid policy)", ["policy", "format", broken], rc=1, stdout="", stderr=broken_errors)
    expect("diff (invalid) A", ["policy", "diff", broken, a], rc=1, stdout="", stderr=broken_errors)
    expect("diff A (invalid)", ["policy", "diff", a, broken], rc=1, stdout="", stderr=broken_errors)
    expect("diff (invalid) (invalid): both files' errors", ["policy", "diff", broken, broken], rc=1, stdout="",
           stderr=broken_errors + broken_errors)
    expect("apply (invalid) CHANGES", ["policy", "apply", broken, changes], rc=1, stdout="", stderr=broken_errors)
    missing = os.path.join(work, "does-not-exist.changes")
    expect("apply A (missing change set)", ["policy", "apply", a, missing], rc=1, stdout="",
           stderr="%s: error: cannot read: No such file or directory\n" % missing)
    expect("apply A (a directory)", ["policy", "apply", a, work], rc=1, stdout="",
           stderr="%s: error: cannot read: Is a directory\n" % work)
    expect("format (missing file)", ["policy", "format", missing], rc=1, stdout="",
           stderr="%s: error: cannot read: No such file or directory\n" % missing)

    # Bad arguments: exit 1, one line.
    for name, args in [
        ("format without POLICY", ["policy", "format"]),
        ("format with two files", ["policy", "format", a, a]),
        ("diff with one file", ["policy", "diff", a]),
        ("diff with three files", ["policy", "diff", a, a, a]),
        ("apply without CHANGES", ["policy", "apply", a]),
        ("apply with an option", ["policy", "apply", "--dry-run", a, changes]),
    ]:
        expect(name, args, rc=1, stdout="", stderr_lines=1)
    return results


def main(tool, example, work, two_tenants=None):
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

    # policy format / diff / apply.
    if two_tenants is None:
        two_tenants = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "policies",
                                   "two-tenants.policy")
    for name, problems, shown in policy_text_cases(tool, os.path.abspath(two_tenants), work):
        report(name, problems, shown)

    print("policy_cli: %d cases, %d failed" % (total, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
