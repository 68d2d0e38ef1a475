#!/usr/bin/python3
"""nvgre-pcap's command line, and the hello demo.

  cli_checks.py NVGRE_PCAP WORK_DIR [POLICY]
      Every failure (no arguments, an unknown command, missing or extra arguments, a missing,
      unreadable, empty, text or cut-short file; egress / ingress without --policy or --host, with
      a bad --underlay-mtu, an unknown option, a missing input, an unknown host or an
      unwritable output) exits 1 with exactly one line on stderr; --help exits 0 with the usage
      on stdout; a pcap without frames shows nothing and exits 0, and egress / ingress on it
      print nothing and write an empty pcap. POLICY (default: examples/policies/
      two-tenants.policy next to this checkout) is a valid policy with host hv1.
  cli_checks.py --hello HELLO NVGRE_PCAP WORK_DIR
      hello exits 0 and says the round trip holds; `nvgre-pcap show` on the pcap it wrote prints
      exactly the example line of docs/nvgre-pcap.md.
"""
import os
import struct
import subprocess
import sys

CLI_MD_EXAMPLE = ('{"n":1,"nvgre":{"vsid":5001,"flow_id":42},"outer":{"l3":"ipv4","src":"192.168.10.11",'
                  '"dst":"192.168.10.12","vlan":null,"ttl":64,"dscp":0,"ecn":0},"inner":{"src_mac":"00:15:5d:00:00:05",'
                  '"dst_mac":"00:15:5d:00:00:06","ethertype":2048,"l3":"ipv4","src":"10.0.0.5","dst":"10.0.0.6"}}')

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)


def record(frame, caplen=None):
    caplen = len(frame) if caplen is None else caplen
    return struct.pack("<IIII", 0, 0, caplen, len(frame)) + frame


def cli(tool, work, policy):
    os.makedirs(work, exist_ok=True)

    def write(name, data):
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    text = write("notes.txt", b"this is not a capture\nsecond line\n")
    empty = write("empty.pcap", b"")
    frame = bytes(range(60))
    cut = write("cut.pcap", PCAP_HEADER + record(frame) + record(frame)[:30])
    huge = write("huge-caplen.pcap", PCAP_HEADER + struct.pack("<IIII", 0, 0, 0x7FFFFFFF, 0x7FFFFFFF) + frame)
    no_frames = write("no-frames.pcap", PCAP_HEADER)
    zero_len = write("zero-length-frame.pcap", PCAP_HEADER + record(b""))
    unreadable = write("unreadable.pcap", PCAP_HEADER)
    out = os.path.join(work, "out.pcap")
    bad_policy = write("bad.policy", b"routing-domain rdid={1234} name=red\n")
    os.chmod(unreadable, 0)
    can_deny = os.geteuid() != 0  # root reads anything

    failures = 0
    cases = [
        ("no arguments", [], 1, None),
        ("unknown command", ["frobnicate"], 1, None),
        ("show without a file", ["show"], 1, None),
        ("show with two files", ["show", no_frames, no_frames], 1, None),
        ("show with an unknown option", ["show", "--frobnicate"], 1, None),
        ("missing file", ["show", os.path.join(work, "does-not-exist.pcap")], 1, None),
        ("a directory", ["show", work], 1, None),
        ("a text file", ["show", text], 1, None),
        ("an empty file", ["show", empty], 1, None),
        ("a pcap cut inside a record", ["show", cut], 1, 1),
        ("a record longer than the snapshot length", ["show", huge], 1, None),
        ("policy with a missing file", ["policy", "policy.txt"], 1, None),
        ("egress without arguments", ["egress"], 1, None),
        ("ingress without arguments", ["ingress"], 1, None),
        ("egress without --policy", ["egress", "--host", "hv1", no_frames, out], 1, None),
        ("egress without --host", ["egress", "--policy", policy, no_frames, out], 1, None),
        ("ingress without --policy", ["ingress", "--host", "hv1", no_frames, out], 1, None),
        ("ingress without --host", ["ingress", "--policy", policy, no_frames, out], 1, None),
        ("egress --policy without a value", ["egress", "--host", "hv1", "--policy"], 1, None),
        ("egress --policy twice", ["egress", "--policy", policy, "--policy", policy, "--host", "hv1", no_frames, out],
         1, None),
        ("egress with one file", ["egress", "--policy", policy, "--host", "hv1", no_frames], 1, None),
        ("egress with three files", ["egress", "--policy", policy, "--host", "hv1", no_frames, out, out], 1, None),
        ("egress with an option after the files", ["egress", "--policy", policy, no_frames, out, "--host", "hv1"], 1, None),
        ("egress with an unknown option", ["egress", "--policy", policy, "--host", "hv1", "--fast", no_frames, out], 1, None),
        ("ingress --underlay-mtu (egress only)", ["ingress", "--policy", policy, "--host", "hv1", "--underlay-mtu", "1500",
                                                   no_frames, out], 1, None),
        ("ingress --gso (egress only)", ["ingress", "--policy", policy, "--host", "hv1", "--gso", no_frames, out], 1, None),
        ("egress --underlay-mtu 67", ["egress", "--policy", policy, "--host", "hv1", "--underlay-mtu", "67", no_frames, out],
         1, None),
        ("egress --underlay-mtu 65536", ["egress", "--policy", policy, "--host", "hv1", "--underlay-mtu", "65536",
                                         no_frames, out], 1, None),
        ("egress --underlay-mtu 15x0", ["egress", "--policy", policy, "--host", "hv1", "--underlay-mtu", "15x0",
                                        no_frames, out], 1, None),
        ("egress --underlay-mtu -1", ["egress", "--policy", policy, "--host", "hv1", "--underlay-mtu=-1", no_frames, out],
         1, None),
        ("egress --underlay-mtu without a value", ["egress", "--policy", policy, "--host", "hv1", "--underlay-mtu"], 1, None),
        ("egress with a missing policy", ["egress", "--policy", os.path.join(work, "nope.policy"), "--host", "hv1",
                                          no_frames, out], 1, None),
        ("egress with an invalid policy (one error)", ["egress", "--policy", bad_policy, "--host", "hv1", no_frames, out], 1, None),
        ("egress with an unknown host", ["egress", "--policy", policy, "--host", "hv9", no_frames, out], 1, None),
        ("ingress with an unknown host", ["ingress", "--policy", policy, "--host", "hv9", no_frames, out], 1, None),
        ("egress with a missing input", ["egress", "--policy", policy, "--host", "hv1",
                                         os.path.join(work, "does-not-exist.pcap"), out], 1, None),
        ("ingress with a missing input", ["ingress", "--policy", policy, "--host", "hv1",
                                          os.path.join(work, "does-not-exist.pcap"), out], 1, None),
        ("egress with a text input", ["egress", "--policy", policy, "--host", "hv1", text, out], 1, None),
        ("egress with a cut-short input", ["egress", "--policy", policy, "--host", "hv1", cut, out], 1, 1),
        ("egress into a missing directory", ["egress", "--policy", policy, "--host", "hv1", no_frames,
                                             os.path.join(work, "no-such-dir", "out.pcap")], 1, None),
        ("egress into the input file", ["egress", "--policy", policy, "--host", "hv1", no_frames, no_frames], 1, None),
        ("egress to '-' (stdout is for JSON)", ["egress", "--policy", policy, "--host", "hv1", no_frames, "-"], 1, None),
        ("egress on a pcap without frames", ["egress", "--policy", policy, "--host", "hv1", "--underlay-mtu", "9000",
                                             "--gso", no_frames, out], 0, 0),
        ("ingress on a pcap without frames", ["ingress", "--host", "hv2", "--policy", policy, no_frames, out], 0, 0),
        ("a pcap without frames", ["show", no_frames], 0, 0),
        ("a zero-length frame", ["show", zero_len], 0, 1),
    ]
    if can_deny:
        cases.append(("an unreadable file", ["show", unreadable], 1, None))
    for name, args, want_rc, want_stdout_lines in cases:
        r = subprocess.run([tool] + args, capture_output=True, text=True)
        err_lines = r.stderr.splitlines()
        problems = []
        if r.returncode != want_rc:
            problems.append("exit %d, expected %d" % (r.returncode, want_rc))
        if want_rc == 1 and len(err_lines) != 1:
            problems.append("%d lines on stderr, expected 1: %r" % (len(err_lines), r.stderr))
        if want_rc == 0 and r.stderr:
            problems.append("stderr: %r" % r.stderr)
        if want_stdout_lines is not None and len(r.stdout.splitlines()) != want_stdout_lines:
            problems.append("%d lines on stdout, expected %d" % (len(r.stdout.splitlines()), want_stdout_lines))
        if args[:1] in (["egress"], ["ingress"]) and want_rc == 0:
            with open(out, "rb") as f:
                written = f.read()
            if written[:4] != PCAP_HEADER[:4] or len(written) != len(PCAP_HEADER):
                problems.append("OUT.pcap is not an empty pcap: %r" % written[:32])
        shown = err_lines[0] if err_lines else r.stdout.strip().replace("\n", " | ")[:80]
        print("%-45s %s  %s" % (name, "ok    " if not problems else "FAILED", shown))
        for p in problems:
            print("    " + p)
        failures += bool(problems)

    r = subprocess.run([tool, "--help"], capture_output=True, text=True)
    ok = r.returncode == 0 and r.stdout.startswith("usage: nvgre-pcap show") and not r.stderr
    print("%-45s %s" % ("--help: usage on stdout, exit 0", "ok" if ok else "FAILED (exit %d)" % r.returncode))
    failures += not ok
    print("nvgre_pcap_cli: %d cases, %d failed" % (len(cases) + 1, failures))
    return 1 if failures else 0


def hello(hello_bin, tool, work):
    os.makedirs(work, exist_ok=True)
    pcap = os.path.join(work, "hello.pcap")
    r = subprocess.run([hello_bin, pcap], capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    failures = 0
    if r.returncode != 0 or "Round trip OK." not in r.stdout or "zero copy" not in r.stdout:
        print("FAIL: hello exited %d: %s" % (r.returncode, r.stderr.strip()))
        failures += 1
    s = subprocess.run([tool, "show", pcap], capture_output=True, text=True)
    if s.returncode != 0 or s.stdout != CLI_MD_EXAMPLE + "\n":
        print("FAIL: show on hello.pcap printed %r (exit %d), expected the docs/nvgre-pcap.md example line" % (s.stdout, s.returncode))
        failures += 1
    else:
        print("show on hello.pcap = the example line of docs/nvgre-pcap.md: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--hello":
        sys.exit(hello(*sys.argv[2:]))
    if len(sys.argv) in (3, 4):
        default_policy = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "policies",
                                      "two-tenants.policy")
        sys.exit(cli(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else default_policy))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
