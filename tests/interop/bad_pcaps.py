#!/usr/bin/python3
"""nvgre-pcap on capture files that are damaged, not pcap, or pcap of another kind.

  bad_pcaps.py NVGRE_PCAP WORK_DIR POLICY [MUTANTS]

Each file goes through `show`, `egress --host hv1` and `ingress --host hv2` (POLICY must have
those hosts: examples/policies/two-tenants.policy). A file that cannot be read as a capture, or
that breaks off inside a header or a record, exits 1 with exactly one line on stderr (the frames
before the break are still reported); a readable capture exits 0 with one JSON line per frame,
however malformed the frames. Captures without Ethernet (raw IP, Linux cooked v1/v2, BSD
loopback: tcpdump -i any and tunnel interfaces write them; written here by scapy) are shown,
each NVGRE packet with its VSID, while egress and ingress refuse them in one line ("... needs
Ethernet"). pcapng files whose interfaces differ in snapshot length or link type (Wireshark
writes them; libpcap 1.10 refuses them) are read whole, and MUTANTS (default 40) mutated
copies of one must end in exit 0 or in exactly one line on stderr (the pcapng_reader fuzz
target searches that space properly; these hold the whole program to it). cli_checks.py covers the other failures
(empty, text, cut inside a record, a record longer than the snapshot length); docs/bad-input.md
lists both. Run under valgrind memcheck as well (ctest memcheck_nvgre_pcap_bad_files).
"""
import concurrent.futures
import json
import os
import random
import struct
import subprocess
import sys

ETHERNET = 1


def pcap_header(magic=0xA1B2C3D4, major=2, minor=4, snaplen=262144, linktype=ETHERNET, endian="<"):
    return struct.pack(endian + "IHHiIII", magic, major, minor, 0, 0, snaplen, linktype)


def record(frame, caplen=None, length=None, endian="<"):
    caplen = len(frame) if caplen is None else caplen
    length = len(frame) if length is None else length
    return struct.pack(endian + "IIII", 0, 0, caplen, length) + frame


def pcapng(frames, linktype=ETHERNET, interfaces=None, endian="<"):
    """A pcapng file. `interfaces`: [(linktype, snaplen, options bytes)]; `frames`: bytes (on
    interface 0) or (interface, bytes, timestamp units)."""
    def block(kind, body):
        body += b"\0" * (-len(body) % 4)
        total = len(body) + 12
        return struct.pack(endian + "II", kind, total) + body + struct.pack(endian + "I", total)
    out = block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    for lt, snap, opts in interfaces or [(linktype, 0, b"")]:
        out += block(1, struct.pack(endian + "HHI", lt, 0, snap) + opts)
    for f in frames:
        iface, data, ts = (0, f, 0) if isinstance(f, bytes) else f
        out += block(6, struct.pack(endian + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data)) + data)
    return out


def tsresol_option(value):
    """if_tsresol (code 9, one byte), padded, then opt_endofopt."""
    return struct.pack("<HHB3x", 9, 1, value) + struct.pack("<HH", 0, 0)


def not_ethernet_captures(work):
    """Captures of an NVGRE packet (VSID 5001, FlowID 42) without Ethernet, written by scapy:
    name -> (path, frames, the outer source address show must report)."""
    from scapy.all import (GRE, IP, UDP, CookedLinux, CookedLinuxV2, Dot1Q, Ether, IPv6, Loopback, Raw,
                           wrpcap)
    inner = Ether(src="00:15:5d:00:00:06", dst="00:15:5d:00:00:05") / IP(src="10.0.0.6", dst="10.0.0.5") / \
        UDP(sport=40000, dport=5001) / Raw(bytes(range(18)))
    gre = GRE(key_present=1, proto=0x6558, key=5001 << 8 | 42) / inner
    v4 = IP(src="192.168.10.12", dst="192.168.10.11") / gre
    v6 = IPv6(src="fd00:10::12", dst="fd00:10::11") / gre
    sll = dict(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x02\x00\xc0\xa8\x0a\x0c\x00\x00")
    sll2 = dict(ifindex=3, lladdrtype=1, pkttype=0, lladdrlen=6, src=b"\x02\x00\xc0\xa8\x0a\x0c\x00\x00")
    cases = {
        "scapy-raw-ipv4.pcap": (101, [v4], "192.168.10.12"),
        "scapy-raw-ipv6.pcap": (101, [v6], "fd00:10::12"),
        "scapy-linux-sll.pcap": (113, [CookedLinux(proto=0x0800, **sll) / v4], "192.168.10.12"),
        "scapy-linux-sll-vlan.pcap": (113, [CookedLinux(proto=0x8100, **sll) / Dot1Q(vlan=7, type=0x0800) / v4], "192.168.10.12"),
        "scapy-linux-sll2.pcap": (276, [CookedLinuxV2(proto=0x86DD, **sll2) / v6], "fd00:10::12"),
        "scapy-null.pcap": (0, [Loopback(type=2) / v4, Loopback(type=0x1C) / v6], None),
        "scapy-loop.pcap": (108, [Loopback(type=2) / v4], "192.168.10.12"),
    }
    out = {}
    for name, (linktype, pkts, src) in cases.items():
        path = os.path.join(work, name)
        if linktype == 108:
            # OpenBSD's loopback: the family in network byte order (scapy writes host order).
            raw = [struct.pack("!I", 2) + bytes(p)[4:] for p in pkts]
            with open(path, "wb") as f:
                f.write(pcap_header(linktype=108) + b"".join(record(r) for r in raw))
        else:
            wrpcap(path, pkts, linktype=linktype)
        out[name] = (path, len(pkts), src)
    return out


def nvgre_frame():
    """A valid NVGRE frame (hv2 -> hv1, VSID 5001, red-db -> red-web UDP), checksums right."""
    def csum(b):
        if len(b) % 2:
            b += b"\0"
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        return ~s & 0xFFFF

    def ipv4(src, dst, proto, payload, tos=0):
        h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), 0, 0x4000, 64, proto, 0, bytes(src), bytes(dst))
        return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

    udp_payload = bytes(range(18))
    src, dst = [10, 0, 0, 6], [10, 0, 0, 5]
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 17, 8 + len(udp_payload))
    udp = struct.pack("!HHHH", 40000, 5001, 8 + len(udp_payload), 0) + udp_payload
    udp = udp[:6] + struct.pack("!H", csum(pseudo + udp) or 0xFFFF) + udp[8:]
    inner = bytes.fromhex("00155d000005 00155d000006 0800".replace(" ", "")) + ipv4(src, dst, 17, udp)
    gre = struct.pack("!HHI", 0x2000, 0x6558, 5001 << 8 | 42) + inner
    outer = ipv4([192, 168, 10, 12], [192, 168, 10, 11], 47, gre)
    return bytes.fromhex("02:00:c0:a8:0a:0b 02:00:c0:a8:0a:0c 0800".replace(":", "").replace(" ", "")) + outer


def run(tool, args):
    r = subprocess.run([tool] + args, capture_output=True, text=True)
    return r.returncode, r.stdout.splitlines(), r.stderr.splitlines()


def run_all(tool, commands):
    """run() of every command, two at a time (each its own output file): under memcheck, a
    second of valgrind's start-up each, so the two cores share them. Results in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda args: run(tool, args), commands))


def main(tool, work, policy, mutants=40):
    os.makedirs(work, exist_ok=True)
    frame = nvgre_frame()
    rng = random.Random(7637)
    garbage_frames = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120))) for _ in range(40)]
    # Every prefix of a valid NVGRE frame: cut at and between every header boundary.
    prefixes = [frame[:n] for n in range(len(frame) + 1)]
    files = {
        # name: (bytes, expected exit, frames reported before the end or the break)
        "truncated-file-header.pcap": (pcap_header()[:10], 1, 0),
        "bad-magic.pcap": (b"\x0b\xad\xf0\x0d" + pcap_header()[4:] + record(frame), 1, 0),
        "archaic-version.pcap": (pcap_header(major=1, minor=0) + record(frame), 1, 0),
        "not-ethernet-linktype-raw.pcap": (pcap_header(linktype=101) + record(frame[14:]), 1, 0),
        "record-header-cut.pcap": (pcap_header() + record(frame) + record(frame)[:8], 1, 1),
        # libpcap reads a record up to its own bound (not the file's snapshot length): then the
        # next record header is read from the middle of the data, and is cut short.
        "caplen-over-snaplen.pcap": (pcap_header(snaplen=64) + record(frame, caplen=200, length=200) + frame + frame, 1, 1),
        "pcapng-cut-inside-a-block.pcap": (pcapng([frame, frame])[:-10], 1, 1),
        "big-endian.pcap": (pcap_header(endian=">") + record(frame, endian=">"), 0, 1),
        "nanosecond-magic.pcap": (pcap_header(magic=0xA1B23C4D) + record(frame), 0, 1),
        "pcapng.pcapng": (pcapng([frame, frame[:40]]), 0, 2),
        "snapped-frames.pcap": (pcap_header(snaplen=60) + b"".join(record(frame[:60], length=len(frame)) for _ in range(2)), 0, 2),
        "every-prefix-of-an-nvgre-frame.pcap": (pcap_header() + b"".join(record(p) for p in prefixes), 0, len(prefixes)),
        "random-bytes-frames.pcap": (pcap_header() + b"".join(record(g) for g in garbage_frames), 0, len(garbage_frames)),
        "trailing-garbage.pcap": (pcap_header() + record(frame) + b"\x01\x02\x03", 1, 1),
        # pcapng as Wireshark writes it: interfaces with different snapshot lengths (libpcap 1.10
        # refuses these; the example's block reader takes them), big-endian, nanosecond
        # timestamps on one interface. All Ethernet: egress and ingress read them too.
        "pcapng-snaplens-differ.pcapng": (pcapng([(0, frame, 1), (1, frame, 2), (1, frame[:30], 3)],
                                                 interfaces=[(ETHERNET, 262144, b""), (ETHERNET, 65535, tsresol_option(9))]), 0, 3),
        "pcapng-snaplens-differ-big-endian.pcapng": (pcapng([(1, frame, 1), (0, frame, 2)], endian=">",
                                                            interfaces=[(ETHERNET, 0, b""), (ETHERNET, 1500, b"")]), 0, 2),
        "pcapng-snaplens-differ-cut.pcapng": (pcapng([(0, frame, 1), (1, frame, 2)],
                                                     interfaces=[(ETHERNET, 262144, b""), (ETHERNET, 65535, b"")])[:-7], 1, 1),
        "pcapng-packet-on-undescribed-interface.pcapng": (pcapng([(0, frame, 1), (2, frame, 2)],
                                                                 interfaces=[(ETHERNET, 262144, b""), (ETHERNET, 9000, b"")]), 1, 1),
    }
    # Link types other than Ethernet: show reads them (exit 0, this many lines); egress and
    # ingress refuse them with one line saying Ethernet is needed.
    show_only = {
        "not-ethernet-linktype-raw.pcap": 1,
        # Ethernet and raw IP interfaces in one pcapng (libpcap 1.10 refuses different link types).
        "pcapng-ethernet-and-raw.pcapng": 2,
        "linux-sll-cut-inside-its-header.pcap": 1,
    }
    files["not-ethernet-linktype-raw.pcap"] = (pcap_header(linktype=101) + record(frame[14:]), 1, 0)
    files["pcapng-ethernet-and-raw.pcapng"] = (pcapng([(0, frame, 1), (1, frame[14:], 2)], interfaces=[(ETHERNET, 262144, b""), (101, 65535, b"")]), 1, 0)
    files["linux-sll-cut-inside-its-header.pcap"] = (pcap_header(linktype=113) + record(b"\0\0\0\1\0\6"), 1, 0)
    scapy_files = not_ethernet_captures(work)
    for name, (path, count, _) in scapy_files.items():
        files[name] = (open(path, "rb").read(), 1, 0)
        show_only[name] = count
    failures = 0
    checks = 0
    runs = []  # (name, command), each file's three commands
    for name, (data, _, _) in files.items():
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        for command in (["show", path],
                        ["egress", "--policy", policy, "--host", "hv1", path, os.path.join(work, name + ".egress.pcap")],
                        ["ingress", "--policy", policy, "--host", "hv2", path, os.path.join(work, name + ".ingress.pcap")]):
            runs.append((name, command))
    results = run_all(tool, [command for _, command in runs])
    for (name, command), (rc, stdout, stderr) in zip(runs, results):
        checks += 1
        problems = []
        if name in show_only and command[0] == "show":
            want_rc, want_frames = 0, show_only[name]
        elif name in show_only:
            want_rc, want_frames = 1, 0
            if not any("needs Ethernet (1)" in line for line in stderr):
                problems.append("no 'needs Ethernet (1)' on stderr")
        else:
            want_rc, want_frames = files[name][1:]
        if rc != want_rc:
            problems.append("exit %d, expected %d" % (rc, want_rc))
        if want_rc == 1 and len(stderr) != 1:
            problems.append("%d lines on stderr, expected 1: %r" % (len(stderr), stderr[:3]))
        if len(stdout) != want_frames:
            problems.append("%d JSON lines, expected %d" % (len(stdout), want_frames))
        for i, line in enumerate(stdout):
            try:
                obj = json.loads(line)
            except ValueError:
                problems.append("not JSON: %r" % line[:80])
                break
            if obj.get("n") != i + 1:
                problems.append("line %d has n=%r" % (i + 1, obj.get("n")))
                break
            if command[0] == "show" and sum(k in obj for k in ("nvgre", "error", "other")) != 1:
                problems.append("show line without exactly one of nvgre/error/other: %r" % line[:80])
                break
            if command[0] != "show" and (obj.get("verdict") == "drop") != ("reason" in obj):
                problems.append("a drop without a reason, or a reason without a drop: %r" % line[:80])
                break
        shown = stderr[0] if stderr else "%d lines" % len(stdout)
        print("%-40s %-8s %s  %s" % (name, command[0], "ok    " if not problems else "FAILED", shown[:90]))
        for p in problems:
            print("    " + p)
        failures += bool(problems)
    # The prefixes and the random frames: every one a named result, never a crash.
    rc, stdout, _ = run(tool, ["show", os.path.join(work, "every-prefix-of-an-nvgre-frame.pcap")])
    kinds = [next(k for k in ("nvgre", "error", "other") if k in json.loads(l)) for l in stdout] if rc == 0 else []
    ok = kinds[-1:] == ["nvgre"] and kinds.count("nvgre") == 1
    print("%-49s %s" % ("every prefix: only the whole frame is nvgre", "ok" if ok else "FAILED: %r" % kinds[-3:]))
    failures += not ok
    checks += 1

    # What show says about the captures without Ethernet: the NVGRE packet, with its VSID and
    # outer addresses (from the IP header, wherever the link header put it).
    def show_objects(name):
        rc, stdout, _ = run(tool, ["show", os.path.join(work, name)])
        return [json.loads(line) for line in stdout] if rc == 0 else []
    for name, (path, count, src) in scapy_files.items():
        objs = show_objects(name)
        got = [(o.get("nvgre"), o.get("outer", {}).get("src")) for o in objs]
        ok = len(objs) == count and all(nv == {"vsid": 5001, "flow_id": 42} and (src is None or s == src) for nv, s in got)
        if name == "scapy-linux-sll-vlan.pcap":  # the tag after the cooked header is the outer VLAN
            ok = ok and objs[0]["outer"]["vlan"] == 7
        if name == "scapy-null.pcap":  # family 2, then family 28 (FreeBSD's AF_INET6)
            ok = ok and [o["outer"]["l3"] for o in objs] == ["ipv4", "ipv6"]
        print("%-49s %s" % ("show %s: nvgre VSID 5001" % name, "ok" if ok else "FAILED: %r" % objs))
        failures += not ok
        checks += 1
    # Offsets count from the captured packet's first byte, whatever the link header: the raw
    # IPv4 packet cut inside its header is truncated at 0 (an IP header), the cooked frame cut
    # inside its 16-byte header at 0 in layer linux-sll; the snapped pcapng frame (30 bytes:
    # Ethernet and 16 of IPv4) is truncated in ipv4 at 14.
    expectations = [
        ("linux-sll-cut-inside-its-header.pcap", [{"n": 1, "error": "truncated", "layer": "linux-sll", "offset": 0}]),
        ("pcapng-snaplens-differ.pcapng", [{"n": 3, "error": "truncated", "layer": "ipv4", "offset": 14}]),
        ("pcapng-ethernet-and-raw.pcapng", None),
    ]
    for name, want in expectations:
        objs = show_objects(name)
        if want is None:  # the same NVGRE packet, once with Ethernet and once as raw IP
            ok = len(objs) == 2 and objs[0]["nvgre"] == objs[1]["nvgre"] and objs[0]["outer"] == objs[1]["outer"]
        else:
            ok = all(w in objs for w in want)
        print("%-49s %s" % ("show %s" % name, "ok" if ok else "FAILED: %r" % objs[-3:]))
        failures += not ok
        checks += 1
    raw_cut = os.path.join(work, "raw-ipv4-cut.pcap")
    with open(raw_cut, "wb") as f:
        f.write(pcap_header(linktype=101) + record(frame[14:30]) + record(b"") + record(b"\x55" + frame[15:60]))
    rc, stdout, _ = run(tool, ["show", raw_cut])
    want = [{"n": 1, "error": "truncated", "layer": "ipv4", "offset": 0}, {"n": 2, "error": "truncated", "layer": "ipv4", "offset": 0},
            {"n": 3, "error": "bad-version", "layer": "ipv4", "offset": 0}]
    got = [json.loads(line) for line in stdout] if rc == 0 else stdout
    ok = got == want
    print("%-49s %s" % ("show raw IP cut short / not IP", "ok" if ok else "FAILED: %r" % got))
    failures += not ok
    checks += 1

    # Mutated copies of a pcapng file the block reader takes (interfaces that differ): every
    # one ends in exit 0, or exit 1 with exactly one line on stderr, and never reads astray
    # (under memcheck, exit 99).
    base = files["pcapng-snaplens-differ.pcapng"][0]
    mutants_failed = 0
    paths = []
    for i in range(mutants):
        m = bytearray(base)
        for _ in range(rng.randrange(1, 4)):
            kind = rng.randrange(3)
            at = rng.randrange(len(m))
            if kind == 0:
                m[at] = rng.randrange(256)
            elif kind == 1:  # a length or count field set to an extreme
                m[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\0\0\0\0", b"\x0c\0\0\0", b"\0\0\0\x80"])
            else:
                del m[at:]
                break
        paths.append(os.path.join(work, "mutant-%02d.pcapng" % i))
        with open(paths[-1], "wb") as f:
            f.write(bytes(m))
    for i, (rc, stdout, stderr) in enumerate(run_all(tool, [["show", path] for path in paths])):
        if rc not in (0, 1) or (rc == 1 and len(stderr) != 1) or (rc == 0 and stderr) \
                or [json.loads(line).get("n") for line in stdout] != list(range(1, len(stdout) + 1)):
            print("    mutant-%02d.pcapng: exit %d, stderr %r" % (i, rc, stderr[:3]))
            mutants_failed += 1
    print("%-49s %s" % ("%d mutated pcapng files: exit 0, or 1 + one line" % mutants, "ok" if not mutants_failed else "FAILED"))
    failures += mutants_failed != 0
    checks += 1
    print("nvgre_pcap_bad_files: %d checks, %d failed" % (checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:4], mutants=int(sys.argv[4]) if len(sys.argv) == 5 else 40))
