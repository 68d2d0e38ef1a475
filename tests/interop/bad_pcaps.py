#!/usr/bin/python3
"""nvgre-pcap on capture files that are damaged, not pcap, or pcap of another kind.

  bad_pcaps.py NVGRE_PCAP WORK_DIR POLICY

Each file goes through `show`, `egress --host hv1` and `ingress --host hv2` (POLICY must have
those hosts: examples/policies/two-tenants.policy). A file that cannot be read as an Ethernet
capture, or that breaks off inside a header or a record, exits 1 with exactly one line on
stderr (the frames before the break are still reported); a readable capture exits 0 with one
JSON line per frame, however malformed the frames. cli_checks.py covers the other failures
(empty, text, cut inside a record, a record longer than the snapshot length); docs/bad-input.md
lists both. Run under valgrind memcheck as well (ctest memcheck_nvgre_pcap_bad_files).
"""
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


def pcapng(frames, linktype=ETHERNET):
    def block(kind, body):
        body += b"\0" * (-len(body) % 4)
        total = len(body) + 12
        return struct.pack("<II", kind, total) + body + struct.pack("<I", total)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 0))
    for f in frames:
        out += block(6, struct.pack("<IIIII", 0, 0, 0, len(f), len(f)) + f)
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


def main(tool, work, policy):
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
    }
    failures = 0
    checks = 0
    out = os.path.join(work, "out.pcap")
    for name, (data, want_rc, want_frames) in files.items():
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        for command in (["show", path], ["egress", "--policy", policy, "--host", "hv1", path, out],
                        ["ingress", "--policy", policy, "--host", "hv2", path, out]):
            checks += 1
            rc, stdout, stderr = run(tool, command)
            problems = []
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
    print("nvgre_pcap_bad_files: %d checks, %d failed" % (checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
