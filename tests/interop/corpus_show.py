#!/usr/bin/python3
"""`nvgre-pcap show` over a corpus of real GRE/NVGRE captures from public projects (CORPUS_DIR).

For every .pcap/.pcapng file:
  - show reads the file as it is, whatever its link type (raw IP too) and however its pcapng
    interfaces differ (snapshot lengths: libpcap 1.10 refuses those, nvgre-pcap's own block
    reader takes them): exit 0, nothing on stderr, exactly one JSON line per frame, as many as
    tshark counts (its `-T fields` rows, one per frame), `n` counting from 1, exactly one
    of nvgre/error/other;
  - cross-check of the readers and of the offsets: a file that is not a classic Ethernet pcap
    (raw IP, a pcapng libpcap refuses) is also rewritten here as one (raw IP behind a 14-byte
    Ethernet header) and shown again: the same answer for every frame, error offsets 14 bytes
    further for the raw IP frames;
  - cross-checks against tshark on every frame: a frame whose first IP header carries GRE
    (tshark's frame.protocols) is never `other`; a frame with no IP at all is `other` or an
    Ethernet/VLAN error; tshark's "bad IPv4 checksum" on the first IP header <=> show's
    bad-checksum in layer ipv4;
  - the known answers of SOURCES.md and HEX_VECTORS.md (RFC 7637 and docs/hnv-rules.md applied by hand).
The PcapPlusPlus .dat files (one hex frame each) and the Ethernet/IPv4 hex vectors of
HEX_VECTORS.md are turned into pcaps and checked the same way.
When the corpus directory is absent: prints "corpus not found, skipped" and exits 0.

usage: corpus_show.py NVGRE_PCAP CORPUS_DIR WORK_DIR
"""
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys

PPP = "PcapPlusPlus/Tests/Packet++Test/PacketExamples/"
RYU = "ryu/ryu/tests/packet_data/pcap/"
PNET = "packetnet/Test/CaptureFiles/"
TCPD = "tcpdump/tests/"
SURI = "suricata-verify/tests/"
ZEEK = "zeek/testing/btest/Traces/tunnels/"


def err(reason, layer, offset=None):
    e = {"error": reason, "layer": layer}
    if offset is not None:
        e["offset"] = offset
    return e


def other(desc):
    return {"other": desc}


# Known answers, frame number -> the expected fields ("*" = every frame). Derived by hand from the
# wire rules of docs/hnv-rules.md and the contents SOURCES.md describes; reasons in the classifier's order
# (outer IP checks, GRE rules, GRE checksum, then NVGRE: C/S flags, K, protocol, VSID, inner frame).
KNOWN = {
    # Its outer IPv4 header checksum is 0x0000 in the capture (tshark: Bad); with it fixed, the
    # frame is the NVGRE packet SOURCES.md describes (see FIXED below).
    PNET + "gre_nvgre.pcap": {1: err("bad-checksum", "ipv4", 24)},
    PNET + "gre_custom_protocol.pcap": {1: err("bad-checksum", "ipv4", 24)},  # checksum 0x0000 too
    PNET + "gre_all_options.pcap": {"*": err("bad-gre-flags", "nvgre", 34)},    # C, K, S; checksums good
    PNET + "gre_ipv6.pcap": {1: err("missing-key", "nvgre", 34)},
    RYU + "gre_nvgre_option.pcap": {1: err("reserved-vsid", "nvgre", 38)},      # VSID 0 (before its inner VLAN)
    RYU + "gre_full_options.pcap": {1: err("bad-gre-flags", "nvgre", 34)},      # checksum good, then C/S
    RYU + "gre_no_option.pcap": {1: err("missing-key", "nvgre", 34)},
    SURI + "bug-2576-01/temp6.pcap": {"*": err("missing-key", "nvgre", 34)},    # GRE-TEB without key
    SURI + "bug-5633-gre-01/gre-udp.pcap": {"*": err("missing-key", "nvgre", 38)},
    SURI + "decode-arp-3/arp-encap.pcap": {1: err("missing-key", "nvgre", 38)},
    SURI + "security-8550/input.pcap": {"*": err("fragmented", "ipv4", 20)},   # outer fragments (flags field)
    TCPD + "erspan-type-ii-1.pcap": {1: err("bad-gre-flags", "nvgre", 34)},    # S bit
    TCPD + "wccp_redirect_gre.pcap": {1: err("missing-key", "nvgre", 34)},
    TCPD + "gre-heapoverflow-1.pcap": {2: err("bad-version", "ipv4", 14)},     # IPv4 version 0
    ZEEK + "gre-within-gre.pcap": {"*": err("missing-key", "nvgre", 34)},
    ZEEK + "gre-over-udp-4754.pcap": {"*": other("ipv4 protocol 17")},        # GRE inside UDP is not NVGRE
    ZEEK + "gre-erspan3-dot1q.pcap": {"*": err("missing-key", "nvgre", 34)},
    # GrePackets.pcap holds GREv1_3, GREv1_1, GREv0_3, GREv0_1, GREv0_2, GREv1_2, GREv0_4 in that order.
    PPP + "GrePackets.pcap": {1: err("bad-version", "gre", 35), 2: err("bad-version", "gre", 35),
                              3: err("bad-gre-flags", "nvgre", 34), 4: err("bad-gre-flags", "nvgre", 34),
                              5: err("missing-key", "nvgre", 34), 6: other("ipv6 next header 4"),
                              7: err("reserved-vsid", "nvgre", 38)},
    PPP + "GREv0_1.dat": {1: err("bad-gre-flags", "nvgre", 34)},  # C bit, checksum 0x77ff good
    PPP + "GREv0_2.dat": {1: err("missing-key", "nvgre", 34)},
    PPP + "GREv0_3.dat": {1: err("bad-gre-flags", "nvgre", 34)},
    PPP + "GREv0_4.dat": {1: err("reserved-vsid", "nvgre", 38)},  # VSID 0xfd
    PPP + "GREv1_1.dat": {1: err("bad-version", "gre", 35)},
    PPP + "GREv1_2.dat": {1: other("ipv6 next header 4")},        # IPv4 (then GREv1) inside IPv6
    PPP + "GREv1_3.dat": {1: err("bad-version", "gre", 35)},
    # Linktype RAW: IPv6 + destination options, GRE flags 0x1d00 (S and reserved bits 4, 5), cut short.
    # Offset 4: the payload length field (offsets count from the captured packet, here the IPv6 header).
    TCPD + "erspan-type-iii-pb-1.pcap": {"*": err("truncated", "ipv6", 4)},
    # HEX_VECTORS.md, Ethernet frames (A*, E*) and raw IPv4 ones wrapped in Ethernet here (D*).
    "HEX_VECTORS.md#A1": {1: err("reserved-vsid", "nvgre", 38)},  # OVS GRE-TEB key 0x1c8: VSID 1
    "HEX_VECTORS.md#A2": {1: err("bad-protocol", "nvgre", 36)},   # key, protocol 0x0800
    "HEX_VECTORS.md#A3": {1: err("bad-protocol", "nvgre", 36)},
    "HEX_VECTORS.md#A4": {1: err("bad-checksum", "ipv4", 24)},    # checksum 0xDEAD
    "HEX_VECTORS.md#A5": {1: err("reserved-vsid", "nvgre", 58)},  # IPv6 outer, VSID 1
    "HEX_VECTORS.md#A6": {1: err("bad-protocol", "nvgre", 56)},
    "HEX_VECTORS.md#E1": {1: err("missing-key", "nvgre", 34)},
    "HEX_VECTORS.md#D1": {1: err("missing-key", "nvgre", 34)},
    "HEX_VECTORS.md#D2": {1: err("truncated", "ipv4", 16)},       # total length 100, 24 bytes
    "HEX_VECTORS.md#D3": {1: err("bad-version", "gre", 35)},
    "HEX_VECTORS.md#D4": {1: err("bad-version", "gre", 35)},
}

# Files checked with a rule rather than per-frame answers.
RULES = {
    # 30 Cisco GRE frames (key 0x28, protocols 0x8909/0x0000/0x2000): NVGRE's protocol rule; the
    # other 70 are STP/CDP/DTP/loopback frames: other.
    TCPD + "various_gre.pcap": ("bad-protocol count", 30),
    # Fuzzer regressions: error or other, never a crash.
    TCPD + "gre-heapoverflow-1.pcap": ("error or other", None),
    TCPD + "gre-heapoverflow-2.pcap": ("error or other", None),
    # PPTP: one enhanced GRE v1 frame among TCP.
    TCPD + "pptp.pcap": ("bad-version count", 1),
}

# Frames that become valid NVGRE once a capture artefact is repaired here.
FIXED = {
    PNET + "gre_nvgre.pcap": {"nvgre": {"vsid": 0x123456, "flow_id": 2},
                              "outer": {"l3": "ipv4", "src": "100.0.17.1", "dst": "100.0.17.2", "vlan": None,
                                        "ttl": 64, "dscp": 0, "ecn": 0},
                              "inner": {"src_mac": "aa:bb:00:00:10:01", "dst_mac": "aa:bb:00:00:10:02",
                                        "ethertype": 0x0800, "l3": "ipv4", "src": "10.0.0.1", "dst": "10.0.0.2"}},
    # OVS's frame with its key changed to 0x001001c8 (VSID 4097): real encapsulator bytes, valid.
    "HEX_VECTORS.md#A1": {"nvgre": {"vsid": 0x001001, "flow_id": 0xC8},
                          "outer": {"l3": "ipv4", "src": "1.1.2.92", "dst": "1.1.2.88", "vlan": None,
                                    "ttl": 64, "dscp": 0, "ecn": 0},
                          "inner": {"src_mac": "be:b6:f4:e1:49:4a", "dst_mac": "fe:71:d8:83:72:4f",
                                    "ethertype": 0x0800, "l3": "ipv4", "src": "30.0.0.1", "dst": "30.0.0.2"}},
}


# ---------------------------------------------------------------------------------------------
# Minimal capture readers/writers (independent of libpcap, to count frames and to rewrite files).
def read_capture(path):
    """Returns (list of (linktype, frame bytes)). Raises ValueError for an unknown format."""
    data = open(path, "rb").read()
    if len(data) < 24:
        raise ValueError("too short")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        return read_pcapng(data)
    else:
        raise ValueError("not a capture")
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        out.append((link, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return out


def read_pcapng(data):
    out, links, off, e = [], [], 0, "<"
    read_pcapng.snaplens = set()
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description
            links.append(struct.unpack(e + "H", body[:2])[0])
            read_pcapng.snaplens.add(struct.unpack(e + "I", body[4:8])[0])
        elif btype == 6:  # enhanced packet
            iface, _, _, caplen = struct.unpack(e + "IIII", body[:16])
            out.append((links[iface], body[20:20 + caplen]))
        elif btype == 3:  # simple packet
            out.append((links[0], body[4:]))
        elif btype == 2:  # obsolete packet block
            iface = struct.unpack(e + "H", body[:2])[0]
            caplen = struct.unpack(e + "I", body[12:16])[0]
            out.append((links[iface], body[20:20 + caplen]))
        if blen < 12:
            break
        off += blen
    return out


def to_ethernet(link, frame):
    if link == 1:
        return frame
    if link in (101, 12, 14):  # raw IP
        etype = 0x86DD if frame and frame[0] >> 4 == 6 else 0x0800
        return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + struct.pack("!H", etype) + frame
    raise ValueError("link type %d" % link)


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, b in enumerate(frames):
            f.write(struct.pack("<IIII", 0, i, len(b), len(b)))
            f.write(b)


def fix_ipv4_checksum(frame, l3):
    b = bytearray(frame)
    ihl = (b[l3] & 0x0F) * 4
    struct.pack_into("!H", b, l3 + 10, 0)
    s = sum(struct.unpack_from("!%dH" % (ihl // 2), b, l3))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    struct.pack_into("!H", b, l3 + 10, ~s & 0xFFFF)
    return bytes(b)


def hex_vectors(path):
    """Ethernet frames of HEX_VECTORS.md by id (A1...); raw IPv4 ones (D2-D4, D1) wrapped in Ethernet."""
    vectors, current, in_block = {}, None, False
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        m = re.match(r"^([A-Z]\d+)\.", line)
        if m and not in_block:
            current = m.group(1)
        elif line.startswith("```"):
            in_block = not in_block
        elif in_block and current and re.fullmatch(r"[0-9a-fA-F]+", line) and current not in vectors:
            vectors[current] = bytes.fromhex(line)
    out = {}
    for k, b in vectors.items():
        if b[:1] == b"\x45":  # bare IPv4: give it an Ethernet header
            b = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + b
        elif len(b) < 14 or b[12:14] not in (b"\x08\x00", b"\x86\xdd", b"\x81\x00"):
            continue  # bare GRE (D5): not a frame
        out[k] = b
    return out


# ---------------------------------------------------------------------------------------------
class Checker:
    def __init__(self, tool, work):
        self.tool, self.work = tool, work
        self.failures = 0
        self.frames = 0
        self.files = 0
        self.tshark = shutil.which("tshark")
        self.seen = set()

    def fail(self, msg):
        self.failures += 1
        print("    FAIL " + msg)

    def show(self, path):
        return subprocess.run([self.tool, "show", path], capture_output=True, text=True)

    def parse_lines(self, name, run, count):
        """Checks exit 0 and one well-formed JSON line per frame; returns the objects."""
        if run.returncode != 0:
            self.fail("%s: exit %d: %s" % (name, run.returncode, run.stderr.strip()[:300]))
            return []
        if run.stderr:
            self.fail("%s: unexpected stderr: %s" % (name, run.stderr.strip()[:300]))
        lines = run.stdout.splitlines()
        if len(lines) != count:
            self.fail("%s: %d lines for %d frames" % (name, len(lines), count))
        objs = []
        for i, line in enumerate(lines, 1):
            try:
                o = json.loads(line)
            except ValueError:
                self.fail("%s: line %d is not JSON: %s" % (name, i, line))
                o = {}
            kinds = [k for k in ("nvgre", "error", "other") if k in o]
            if o.get("n") != i or len(kinds) != 1 or list(o.keys())[0] != "n":
                self.fail("%s: line %d malformed: %s" % (name, i, line))
            if "error" in o and list(o.keys()) != ["n", "error", "layer", "offset"]:
                self.fail("%s: line %d: error keys %s" % (name, i, list(o.keys())))
            objs.append(o)
        return objs

    def tshark_fields(self, path):
        """tshark's rows for `path` (one per frame: protocols, first IPv4 checksum status), or
        None without tshark or when tshark fails. One tshark run per file, kept in a cache keyed
        by the file's bytes: $NVGRE_TSHARK_CACHE (make test: build/tshark-cache, shared by every
        configuration and the memcheck twin), else beside the work directory. tshark's start-up,
        not nvgre-pcap, was most of this test's time."""
        if self.tshark is None:
            return None
        data = open(path, "rb").read()
        cache_dir = os.environ.get("NVGRE_TSHARK_CACHE") or \
            os.path.join(os.path.dirname(os.path.abspath(self.work)), "tshark-cache")
        os.makedirs(cache_dir, exist_ok=True)
        cached = os.path.join(cache_dir, hashlib.sha256(data).hexdigest() + ".json")
        if os.path.exists(cached):
            with open(cached, encoding="utf-8") as f:
                rc, out = json.load(f)
        else:
            r = subprocess.run([self.tshark, "-r", path, "-o", "ip.check_checksum:TRUE", "-T", "fields",
                                "-e", "frame.protocols", "-e", "ip.checksum.status"], capture_output=True, text=True)
            rc, out = r.returncode, r.stdout
            tmp = "%s.%d.tmp" % (cached, os.getpid())
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump([rc, out], f)
            os.replace(tmp, cached)  # atomic: a concurrent twin reads the whole file or none
        if rc != 0:
            return None
        rows = []
        for line in out.splitlines():
            parts = line.split("\t")
            rows.append((parts[0], parts[1].split(",")[0] if len(parts) > 1 else ""))
        return rows

    def cross_check(self, name, objs, rows):
        if rows is None or len(rows) != len(objs):
            return
        for i, (o, (protos, ck)) in enumerate(zip(objs, rows), 1):
            layers = protos.split(":")
            first_ip = next((j for j, p in enumerate(layers) if p in ("ip", "ipv6")), None)
            # Link layers show decodes: Ethernet (and its tags), raw IP, Linux cooked, BSD loopback.
            l2_only = all(p in ("eth", "ethertype", "vlan", "raw", "sll", "null", "loop") for p in layers[:first_ip]) \
                if first_ip is not None else False
            if first_ip is not None and l2_only:
                after = [p for p in layers[first_ip + 1:] if not p.startswith("ipv6.")]
                if after[:1] == ["gre"] and "other" in o:
                    self.fail("%s frame %d: tshark sees %s, show says other" % (name, i, protos))
                # tshark's verdict on the first IPv4 header checksum (0 = bad, 1 = good). show
                # judges it for GRE packets only (others are "other" whatever their checksum),
                # and judges the header's lengths first, so a bad checksum may surface as another
                # ipv4 error; but show's bad-checksum always needs tshark's "bad".
                if layers[first_ip] == "ip" and ck in ("0", "1"):
                    show_bad = o.get("error") == "bad-checksum" and o.get("layer") == "ipv4"
                    ipv4_error = "error" in o and o.get("layer") == "ipv4"
                    is_gre = after[:1] == ["gre"]
                    if (show_bad and ck != "0") or (ck == "0" and is_gre and not ipv4_error) \
                            or (ck == "0" and not is_gre and not ("other" in o or ipv4_error)):
                        self.fail("%s frame %d: tshark checksum status %s, show says %s" % (name, i, ck, json.dumps(o)))
            elif first_ip is None and "nvgre" in o:
                self.fail("%s frame %d: tshark sees no IP (%s), show says nvgre" % (name, i, protos))
            elif first_ip is None and "error" in o and o["layer"] not in ("ethernet", "vlan", "linux-sll", "linux-sll2", "null", "loop"):
                self.fail("%s frame %d: tshark sees no IP (%s), show says %s" % (name, i, protos, json.dumps(o)))

    def known(self, key, objs):
        want = KNOWN.get(key)
        checked = 0
        self.seen.add(key)
        if want:
            for n, fields in want.items():
                targets = range(1, len(objs) + 1) if n == "*" else [n]
                for i in targets:
                    o = objs[i - 1] if 0 < i <= len(objs) else {}
                    if any(o.get(k) != v for k, v in fields.items()):
                        self.fail("%s frame %d: show says %s, expected %s" % (key, i, json.dumps(o), json.dumps(fields)))
                    checked += 1
        rule = RULES.get(key)
        if rule:
            kind, count = rule
            if kind == "bad-protocol count":
                errs = [o for o in objs if "error" in o]
                if len(errs) != count or any(o["error"] != "bad-protocol" for o in errs):
                    self.fail("%s: %d errors (%s), expected %d bad-protocol" % (key, len(errs), sorted({o["error"] for o in errs}), count))
                if any("nvgre" in o for o in objs):
                    self.fail("%s: nvgre frames in a capture without NVGRE" % key)
            elif kind == "bad-version count":
                errs = [o for o in objs if "error" in o]
                if len(errs) != count or any((o["error"], o["layer"]) != ("bad-version", "gre") for o in errs):
                    self.fail("%s: errors %s, expected %d GRE bad-version" % (key, errs, count))
            elif kind == "error or other":
                if any("nvgre" in o for o in objs):
                    self.fail("%s: a fuzzer regression frame classified as nvgre" % key)
            checked += len(objs)
        return checked

    def run_file(self, key, path, frames):
        """Shows `path` (a capture holding `frames`), then checks it all; its frame count must
        also be tshark's."""
        run = self.show(path)
        rows = self.tshark_fields(path)
        counted = None if rows is None else len(rows)
        if counted is not None and counted != len(frames):
            self.fail("%s: tshark counts %d frames, this test's reader %d" % (key, counted, len(frames)))
        objs = self.parse_lines(key, run, len(frames) if counted is None else counted)
        self.cross_check(key, objs, rows)
        n_known = self.known(key, objs)
        self.files += 1
        self.frames += len(frames)
        counts = {k: sum(1 for o in objs if k in o) for k in ("nvgre", "error", "other")}
        print("  %-62s %4d frames (tshark %s)  nvgre %d error %d other %d%s" % (
            key, len(frames), "?" if counted is None else counted, counts["nvgre"], counts["error"], counts["other"],
            ("  (%d known answers)" % n_known) if n_known else ""))
        return objs

    def fixed(self, key, frames):
        """The frame once repaired must be the NVGRE packet described in FIXED."""
        want = FIXED[key]
        frame = frames[0]
        if frame[23] == 47 and frame[12:14] == b"\x08\x00":
            frame = fix_ipv4_checksum(frame, 14)
        if key.endswith("#A1"):  # give it a tenant VSID: key 0x001001c8
            frame = frame[:38] + b"\x00\x10\x01\xc8" + frame[42:]
        path = os.path.join(self.work, re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".repaired.pcap")
        write_pcap(path, [frame])
        objs = self.parse_lines(key + " (repaired)", self.show(path), 1)
        got = objs[0] if objs else {}
        exp = dict(n=1, **want)
        if got != exp or json.dumps(got) != json.dumps(exp):
            self.fail("%s repaired: show says %s, expected %s" % (key, json.dumps(got), json.dumps(exp)))
        else:
            print("  %-62s    1 frame   nvgre VSID %d FlowID %d, as expected" % (
                key + " (repaired)", want["nvgre"]["vsid"], want["nvgre"]["flow_id"]))


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    tool, corpus, work = sys.argv[1:]
    if not os.path.isdir(corpus):
        print("corpus not found, skipped")
        return 0
    os.makedirs(work, exist_ok=True)
    c = Checker(tool, work)

    print("captures (as files, whatever their link type):")
    captures = []
    for root, _, files in os.walk(corpus):
        for f in files:
            if f.endswith((".pcap", ".pcapng")):
                captures.append(os.path.join(root, f))
    for path in sorted(captures):
        key = os.path.relpath(path, corpus)
        try:
            frames = read_capture(path)
        except ValueError as e:
            c.fail("%s: this test cannot read it: %s" % (key, e))
            continue
        links = {l for l, _ in frames}
        # libpcap 1.10 reads a pcapng only when all its interfaces share link type and snapshot
        # length; nvgre-pcap reads the others with its own block reader.
        snaplens_differ = open(path, "rb").read(4) == b"\x0a\x0d\x0d\x0a" and len(read_pcapng.snaplens) > 1
        objs = c.run_file(key, path, [b for _, b in frames])
        if links != {1} or snaplens_differ:
            # Cross-check: the same frames as a classic Ethernet pcap (libpcap's path, the
            # Ethernet parse) must get the same answers; raw IP error offsets move by the 14
            # bytes of Ethernet header added.
            rewritten = os.path.join(work, os.path.basename(path) + ".ethernet.pcap")
            write_pcap(rewritten, [to_ethernet(l, b) for l, b in frames])
            again = c.parse_lines(key + " (as Ethernet pcap)", c.show(rewritten), len(frames))
            for i, ((link, _), o, e) in enumerate(zip(frames, objs, again), 1):
                if "offset" in o and link != 1:
                    o = dict(o, offset=o["offset"] + 14)
                if o != e:
                    c.fail("%s frame %d: %s, but as an Ethernet pcap %s" % (key, i, json.dumps(o), json.dumps(e)))
            print("  %-62s %4d frames  the same as an Ethernet pcap (%s)" % (
                "", len(again), "link types %s" % sorted(links) if links != {1} else "snapshot lengths %s" % sorted(read_pcapng.snaplens)))
        frames = [to_ethernet(l, b) for l, b in frames]
        if key in FIXED:
            c.fixed(key, frames)

    print("single frames (PcapPlusPlus .dat hex, HEX_VECTORS.md):")
    singles = []
    for root, _, files in os.walk(corpus):
        for f in sorted(files):
            if f.endswith(".dat"):
                hexdata = open(os.path.join(root, f)).read().strip()
                singles.append((os.path.relpath(os.path.join(root, f), corpus), bytes.fromhex(hexdata)))
    hv = os.path.join(corpus, "HEX_VECTORS.md")
    if os.path.exists(hv):
        for k, b in sorted(hex_vectors(hv).items()):
            singles.append(("HEX_VECTORS.md#" + k, b))
    for key, frame in sorted(singles):
        path = os.path.join(work, re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".pcap")
        write_pcap(path, [frame])
        c.run_file(key, path, [frame])
        if key in FIXED:
            c.fixed(key, [frame])

    for k in sorted(set(KNOWN) | set(RULES) | set(FIXED)):
        if k not in c.seen:
            c.fail("%s: a known answer for a file that is not in the corpus" % k)
    print("corpus_show: %d files, %d frames, %d failures" % (c.files, c.frames, c.failures))
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
