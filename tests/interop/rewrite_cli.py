#!/usr/bin/python3
"""IP rewrite (the `nat` rule, datapath/rewrite.hpp) through `nvgre-pcap egress` / `ingress`,
checked against scapy and tshark.

  rewrite_cli.py NVGRE_PCAP POLICY WORK_DIR     (POLICY: examples/policies/two-tenants.policy)

The policy used is POLICY plus an IPv6 nat pair (written to WORK_DIR/nat.policy): blue-nat1
(10.0.0.7, PA 192.168.10.21) and blue-v6nat1 (fd00:6001::17, PA 2001:db8::21) on hv1,
blue-nat2 (10.0.0.8, PA .22) and blue-v6nat2 (fd00:6001::18, PA 2001:db8::22) on hv2.

1. egress on hv1: scapy crafts what the nat VMs send (TCP, UDP, UDP with checksum 0, ICMP echo,
   ICMP errors quoting whole and cut-short packets, IPv4 fragments, IPv6 TCP/UDP, ICMPv6 echo
   and errors) and frames that mix encap and nat ends. Each JSON line: verdict rewrite, VSID,
   the destination PA (or drop nat-mismatch). Each output frame:
   - equals the same packet built by scapy between the PAs (scapy computing every checksum;
     the quoted packet of an error translated the other way round), Ethernet = PA MACs;
   - scapy recomputes every checksum of it and agrees: IPv4 header, TCP, UDP (non-zero), ICMP,
     ICMPv6, the quoted IPv4 header, and the quoted transport checksum when the quote is whole;
   - tshark (all checksum checks on) finds no bad checksum and nothing malformed.
2. ingress on hv2 of those frames: every one delivered to the destination VM, byte for byte
   the frame the VM sent; the replies (egress on hv2, ingress on hv1) likewise; frames from a PA
   that does not own the CA (an encap PA, an unknown PA) are dropped spoofed-source.
3. Oversize packets (--underlay-mtu 600, --gso): TCP segments, IPv4 fragments (no DF), each
   rewritten and recomputed by scapy, delivered back on hv2; a DF packet answered too big.
4. Robustness: every prefix and seeded random corruptions of those frames through both
   pipelines: exit 0, one JSON line each (under ASan/UBSan in the sanitizer build).
Prints one line per check group; exits 1 on any mismatch, 77 when scapy or tshark is missing.
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
try:
    from scapy.all import (ICMP, IP, TCP, UDP, Ether, ICMPv6DestUnreach, ICMPv6EchoRequest, ICMPv6PacketTooBig,
                           ICMPv6TimeExceeded, IPerror, IPerror6, IPv6, NoPayload, Raw, fragment)
    from scapy.layers.inet import in4_chksum
except ImportError:
    print("scapy is not importable from %s (Debian: apt-get install python3-scapy), skipped" % sys.executable)
    sys.exit(77)

NAT1, NAT2 = "00:15:5d:00:01:07", "00:15:5d:00:01:08"
V6NAT1, V6NAT2 = "00:15:5d:00:01:17", "00:15:5d:00:01:18"
BLUE_WEB, BLUE_DB = "00:15:5d:00:01:05", "00:15:5d:00:01:06"
PA_MAC = {"192.168.10.21": "02:00:c0:a8:0a:15", "192.168.10.22": "02:00:c0:a8:0a:16",
          "2001:db8::21": "02:00:20:01:00:21", "2001:db8::22": "02:00:20:01:00:22"}
V4 = dict(src_mac=NAT1, dst_mac=NAT2, src="10.0.0.7", dst="10.0.0.8", src_pa="192.168.10.21", dst_pa="192.168.10.22")
V6 = dict(src_mac=V6NAT1, dst_mac=V6NAT2, src="fd00:6001::17", dst="fd00:6001::18", src_pa="2001:db8::21",
          dst_pa="2001:db8::22")
BLUE = "{22222222-2222-2222-2222-222222222222}"
EXTRA_POLICY = """
# rewrite_cli.py: an IPv6 nat pair beside two-tenants.policy's IPv4 one.
provider-address host=hv1 pa=2001:db8::21 prefix-length=64 mac=02:00:20:01:00:21
provider-address host=hv2 pa=2001:db8::22 prefix-length=64 mac=02:00:20:01:00:22
customer-route rdid=%s vsid=6001 prefix=fd00:6001::/64 next-hop=::
lookup-record vsid=6001 ca=fd00:6001::17 mac=00:15:5d:00:01:17 pa=2001:db8::21 rule=nat vm=blue-v6nat1
lookup-record vsid=6001 ca=fd00:6001::18 mac=00:15:5d:00:01:18 pa=2001:db8::22 rule=nat vm=blue-v6nat2
""" % BLUE

from interop_support import checker, write_pcap  # noqa: E402


def read_pcap(path):
    """The frames of a classic pcap (what nvgre-pcap writes), as bytes."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    out, at = [], 24
    while at + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[at:at + 16])
        out.append(data[at + 16:at + 16 + incl])
        at += 16 + incl
    return out


def run(tool, args):
    return subprocess.run([tool] + args, capture_output=True, text=True)


def pipeline(tool, command, policy, host, frames, work, name):
    inp, outp = os.path.join(work, name + "-in.pcap"), os.path.join(work, name + "-out.pcap")
    write_pcap(inp, frames)
    r = run(tool, [command, "--policy", policy, "--host", host, inp, outp])
    lines = []
    for l in r.stdout.splitlines():
        try:
            lines.append(json.loads(l))
        except ValueError:
            lines.append({"unparsable": l})
    out = read_pcap(outp) if r.returncode == 0 and os.path.exists(outp) else []
    return r, lines, out, outp


# ---- the cases: what the VM sends, built by scapy between any two addresses ------------------

def ip_layer(src, dst, **kw):
    return IPv6(src=src, dst=dst, **kw) if ":" in src else IP(src=src, dst=dst, flags="DF", id=0x1234, **kw)


def cases():
    """(name, ends, make) where make(src, dst) gives the IP packet (scapy) from src to dst; an
    error's quote is the peer's packet from dst to src."""
    c = []

    def quote(src, dst, l4, limit):
        return Raw(bytes(ip_layer(dst, src) / l4)[:limit])

    c.append(("TCP SYN with options", V4, lambda s, d: ip_layer(s, d) / TCP(
        sport=40000, dport=443, flags="S", seq=1000, options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])))
    c.append(("TCP with data", V4, lambda s, d: ip_layer(s, d) / TCP(sport=40000, dport=443, flags="PA") /
              Raw(b"GET / HTTP/1.1\r\n" * 5)))
    c.append(("UDP", V4, lambda s, d: ip_layer(s, d) / UDP(sport=40001, dport=40002) / Raw(b"query")))
    c.append(("UDP with checksum 0 (absent)", V4, lambda s, d: ip_layer(s, d) / UDP(sport=40001, dport=40002, chksum=0) /
              Raw(b"no checksum")))
    c.append(("ICMP echo request", V4, lambda s, d: ip_layer(s, d) / ICMP(type=8, id=7, seq=1) / Raw(b"ping" * 14)))
    c.append(("ICMP port unreachable quoting the whole UDP datagram", V4, lambda s, d: ip_layer(s, d) /
              ICMP(type=3, code=3) / quote(s, d, UDP(sport=40002, dport=40001) / Raw(b"answer"), 548)))
    c.append(("ICMP time exceeded quoting IP + 8 bytes of TCP", V4, lambda s, d: ip_layer(s, d) /
              ICMP(type=11, code=0) / quote(s, d, TCP(sport=443, dport=40000, flags="A") / Raw(b"x" * 100), 28)))
    c.append(("ICMP fragmentation needed quoting 60 bytes of TCP", V4, lambda s, d: ip_layer(s, d) /
              ICMP(type=3, code=4, nexthopmtu=1400) / quote(s, d, TCP(sport=443, dport=40000) / Raw(b"y" * 1400), 60)))
    c.append(("ICMP port unreachable quoting UDP with checksum 0", V4, lambda s, d: ip_layer(s, d) /
              ICMP(type=3, code=3) / quote(s, d, UDP(sport=40002, dport=40001, chksum=0) / Raw(b"z" * 9), 548)))
    c.append(("IPv6 TCP", V6, lambda s, d: ip_layer(s, d) / TCP(sport=40000, dport=22, flags="PA") / Raw(b"ssh" * 20)))
    c.append(("IPv6 UDP", V6, lambda s, d: ip_layer(s, d) / UDP(sport=4500, dport=4500) / Raw(b"v6 datagram")))
    c.append(("ICMPv6 echo request", V6, lambda s, d: ip_layer(s, d) / ICMPv6EchoRequest(id=9, seq=2, data=b"ping6" * 8)))
    c.append(("ICMPv6 port unreachable quoting the whole UDP datagram", V6, lambda s, d: ip_layer(s, d) /
              ICMPv6DestUnreach(code=4) / quote(s, d, UDP(sport=40002, dport=40001) / Raw(b"answer6"), 1232)))
    c.append(("ICMPv6 packet too big quoting 1232 bytes of TCP", V6, lambda s, d: ip_layer(s, d) /
              ICMPv6PacketTooBig(mtu=1280) / quote(s, d, TCP(sport=443, dport=40000) / Raw(b"w" * 1400), 1232)))
    c.append(("ICMPv6 time exceeded quoting an echo request", V6, lambda s, d: ip_layer(s, d) /
              ICMPv6TimeExceeded() / quote(s, d, ICMPv6EchoRequest(id=1, seq=1, data=b"e" * 10), 1232)))
    return c


def fragments(s, d):
    """A UDP datagram (DF clear) from s to d in three IPv4 fragments."""
    return fragment(IP(src=s, dst=d, id=0x4242) / UDP(sport=7000, dport=7001) / Raw(bytes(range(256)) * 2), fragsize=200)


def frame(mac_src, mac_dst, pkt):
    return bytes(Ether(src=mac_src, dst=mac_dst) / pkt)


# ---- scapy's opinion of the checksums ----------------------------------------------------------

CHECKSUM_FIELDS = ("chksum", "cksum")


def whole_quote(layer):
    """True when a quoted IP layer (IPerror / IPerror6) holds its whole packet."""
    raw = bytes(layer)
    if isinstance(layer, IPerror):
        return layer.len <= len(raw)
    return 40 + layer.plen <= len(raw)


def scapy_recomputed(raw):
    """The frame re-dissected, every checksum field scapy can recompute deleted, rebuilt: equal to
    `raw` when every checksum is right. UDP checksums of 0 stay (absent); quoted transport
    checksums are recomputed only when the quote is whole; fragments keep their transport
    checksum (it covers the whole datagram, not the fragment)."""
    p = Ether(raw)
    fragmented = IP in p and (p[IP].flags.MF or p[IP].frag != 0)
    in_quote, quote_whole = False, True
    layer = p
    while not isinstance(layer, (Raw, NoPayload)):
        if isinstance(layer, (IPerror, IPerror6)):
            in_quote, quote_whole = True, whole_quote(layer)
        for f in CHECKSUM_FIELDS:
            if f not in layer.fields:
                continue
            if isinstance(layer, UDP) and layer.fields[f] == 0:  # UDPerror too
                continue
            if fragmented and not isinstance(layer, IP):
                continue
            if in_quote and not isinstance(layer, IPerror) and not quote_whole:
                continue
            delattr(layer, f)  # (not del layer.fields[f]: that would keep scapy's cached raw bytes)
        layer = layer.payload
    return bytes(p)


def tshark_statuses(tshark, path):
    """Per frame: every `*.checksum.status` value tshark reports (checks on), and whether it
    marked the frame malformed."""
    r = subprocess.run([tshark, "-r", path, "-T", "json", "--no-duplicate-keys", "-o", "ip.check_checksum:TRUE",
                        "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    out = []
    for pkt in json.loads(r.stdout):
        statuses, malformed = [], False

        def walk(x):
            nonlocal malformed
            if isinstance(x, dict):
                for k, v in x.items():
                    if k.endswith("checksum.status") and isinstance(v, str):
                        statuses.append((k, v))
                    if k == "_ws.malformed":
                        malformed = True
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)
        walk(pkt["_source"]["layers"])
        out.append((statuses, malformed))
    return out


# ---- the parts ------------------------------------------------------------------------------

def egress_and_back(tool, policy, work, tshark, check):
    sent, expect_wire, replies, names = [], [], [], []
    for name, e, make in cases():
        sent.append(frame(e["src_mac"], e["dst_mac"], make(e["src"], e["dst"])))
        expect_wire.append(frame(PA_MAC[e["src_pa"]], PA_MAC[e["dst_pa"]], make(e["src_pa"], e["dst_pa"])))
        replies.append(frame(e["dst_mac"], e["src_mac"], make(e["dst"], e["src"])))
        names.append((name, e))
    for i, (f, g) in enumerate(zip(fragments(V4["src"], V4["dst"]), fragments(V4["src_pa"], V4["dst_pa"]))):
        sent.append(frame(NAT1, NAT2, f))
        expect_wire.append(frame(PA_MAC[V4["src_pa"]], PA_MAC[V4["dst_pa"]], g))
        replies.append(None)
        names.append(("IPv4 fragment %d of a UDP datagram" % (i + 1), V4))

    r, lines, out, outp = pipeline(tool, "egress", policy, "hv1", sent, work, "egress")
    g = "egress on hv1: verdict rewrite, VSID 6001, pa = the destination's nat PA, one frame each"
    check(g, r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr.strip()))
    check(g, len(lines) == len(sent), "%d lines for %d frames" % (len(lines), len(sent)))
    check(g, len(out) == len(sent), "%d output frames for %d inputs" % (len(out), len(sent)))
    if r.returncode != 0 or len(lines) != len(sent) or len(out) != len(sent):
        return None
    for i, ((name, e), l) in enumerate(zip(names, lines)):
        want = {"n": i + 1, "verdict": "rewrite", "vsid": 6001, "pa": e["dst_pa"], "out": [i + 1]}
        check(g, l == want and list(l.keys()) == list(want.keys()), "%s: %s, expected %s" % (name, json.dumps(l), json.dumps(want)))
    check(g, "verdict rewrite %d" % len(sent) in r.stderr, "counters: %r" % r.stderr)

    g = "egress output = the same packet built by scapy between the PAs (quotes translated back)"
    for (name, _), got, want in zip(names, out, expect_wire):
        check(g, got == want, "%s:\n      got  %s\n      want %s" % (name, got.hex(), want.hex()))

    g = "scapy recomputes every checksum of the egress output and agrees"
    for (name, _), got in zip(names, out):
        again = scapy_recomputed(got)
        check(g, again == got, "%s: scapy's checksums differ:\n      ours   %s\n      scapy  %s" % (name, got.hex(), again.hex()))
    # The oracle must notice a wrong checksum: spoil the transport one (the IPv4 header's
    # when the transport has none to spoil) of every frame that is no fragment.
    spoiled = tried = 0
    for got in out:
        p = Ether(got)
        if IP in p and (p[IP].flags.MF or p[IP].frag != 0):
            continue
        l4, l3 = p.getlayer(2), p.getlayer(1)
        target = l4 if any(l4.fields.get(f) for f in CHECKSUM_FIELDS) else l3
        f = next((f for f in CHECKSUM_FIELDS if f in target.fields), None)
        if f is None:
            continue
        setattr(target, f, getattr(target, f) ^ 0x0101)
        tried += 1
        spoiled += scapy_recomputed(bytes(p)) != bytes(p)
    check(g, tried >= 14 and spoiled == tried, "the scapy oracle caught %d of %d spoiled checksums" % (spoiled, tried))

    st = tshark_statuses(tshark, outp)
    g = "tshark (checksum checks on): no bad checksum, nothing malformed in the egress output"
    check(g, st is not None and len(st) == len(out), "tshark failed or frame count differs")
    for (name, _), s, got in zip(names, st or [], out):
        statuses, malformed = s
        # tshark checks a quoted TCP/UDP checksum over what the quote holds: meaningless when
        # the quote is cut short (scapy's own packet gets the same verdict), so not judged then.
        p = Ether(got)
        quoted = p.getlayer(IPerror) or p.getlayer(IPerror6)
        cut = quoted is not None and not whole_quote(quoted)
        bad = [kv for kv in statuses if kv[1] not in ("1", "2", "3")
               and not (cut and kv[0] in ("tcp.checksum.status", "udp.checksum.status"))]
        check(g, not bad and not malformed, "%s: %r malformed=%s" % (name, bad, malformed))
        if Ether(got).type == 0x0800:
            check(g, ("ip.checksum.status", "1") in statuses, "%s: no good IPv4 header checksum in %r" % (name, statuses))

    # Ingress on hv2: byte for byte what the VM sent.
    r, lines, back, _ = pipeline(tool, "ingress", policy, "hv2", out, work, "ingress")
    g = "ingress on hv2: deliver, the frame the VM sent, byte for byte"
    check(g, r.returncode == 0 and len(lines) == len(out) and len(back) == len(out),
          "exit %d, %d lines, %d frames: %s" % (r.returncode, len(lines), len(back), r.stderr.strip()))
    for i, ((name, e), l) in enumerate(zip(names, lines)):
        want = {"n": i + 1, "verdict": "deliver", "vsid": 6001, "out": [i + 1]}
        check(g, l == want, "%s: %s" % (name, json.dumps(l)))
        if i < len(back):
            check(g, back[i] == sent[i], "%s:\n      got  %s\n      sent %s" % (name, back[i].hex(), sent[i].hex()))

    # The replies: egress on hv2, ingress on hv1.
    rep = [x for x in replies if x is not None]
    r1, l1, o1, _ = pipeline(tool, "egress", policy, "hv2", rep, work, "reply-egress")
    r2, l2, o2, _ = pipeline(tool, "ingress", policy, "hv1", o1, work, "reply-ingress")
    g = "replies: egress on hv2 then ingress on hv1 restore them byte for byte"
    check(g, r1.returncode == 0 and r2.returncode == 0, "exit %d / %d" % (r1.returncode, r2.returncode))
    check(g, [l["verdict"] for l in l1] == ["rewrite"] * len(rep), "egress verdicts %r" % [l.get("verdict") for l in l1])
    check(g, [l["verdict"] for l in l2] == ["deliver"] * len(rep), "ingress verdicts %r" % [l.get("verdict") for l in l2])
    check(g, o2 == rep, "%d of %d replies differ" % (sum(a != b for a, b in zip(o2, rep)) + abs(len(o2) - len(rep)), len(rep)))
    return sent, out


def drops(tool, policy, work, check):
    g = "drops: one end encap (nat-mismatch); a PA that does not own the CA (spoofed-source)"
    udp = lambda s, d: IP(src=s, dst=d, flags="DF") / UDP(sport=1, dport=2) / Raw(b"drop me")
    eg = [("blue-web (encap) -> blue-nat2 (nat)", frame(BLUE_WEB, NAT2, udp("10.0.0.5", "10.0.0.8")), "nat-mismatch"),
          ("blue-nat1 (nat) -> blue-db (encap)", frame(NAT1, BLUE_DB, udp("10.0.0.7", "10.0.0.6")), "nat-mismatch")]
    r, lines, out, _ = pipeline(tool, "egress", policy, "hv1", [f for _, f, _ in eg], work, "drops-egress")
    check(g, r.returncode == 0 and len(lines) == len(eg) and not out, "exit %d, %d lines, %d frames" % (r.returncode, len(lines), len(out)))
    for i, ((name, _, reason), l) in enumerate(zip(eg, lines)):
        check(g, l == {"n": i + 1, "verdict": "drop", "reason": reason, "vsid": 6001, "out": []}, "%s: %s" % (name, json.dumps(l)))
    hv2_pa_mac = PA_MAC["192.168.10.22"]
    ing = [("from hv1's encap PA claiming blue-nat1", frame("02:00:c0:a8:0a:0b", hv2_pa_mac, udp("192.168.10.11", "192.168.10.22")),
            "spoofed-source"),
           ("from a PA nobody holds", frame("02:00:c0:a8:0a:63", hv2_pa_mac, udp("192.168.10.99", "192.168.10.22")), "spoofed-source"),
           ("from hv2's own nat PA", frame(hv2_pa_mac, hv2_pa_mac, udp("192.168.10.22", "192.168.10.22")), "spoofed-source"),
           ("to a PA that is no nat PA", frame("02:00:c0:a8:0a:15", "02:00:c0:a8:0a:0c", udp("192.168.10.21", "192.168.10.12")),
            "not-nvgre")]
    r, lines, out, _ = pipeline(tool, "ingress", policy, "hv2", [f for _, f, _ in ing], work, "drops-ingress")
    check(g, r.returncode == 0 and len(lines) == len(ing) and not out, "exit %d, %d lines, %d frames" % (r.returncode, len(lines), len(out)))
    for i, ((name, _, reason), l) in enumerate(zip(ing, lines)):
        check(g, l.get("verdict") == "drop" and l.get("reason") == reason and l.get("out") == [], "%s: %s" % (name, json.dumps(l)))


def oversize(tool, policy, work, check):
    """Packets over --underlay-mtu 600, as an encapsulated one would be: oversize TCP cut into
    segments with --gso, IPv4 without DF fragmented, the rest answered too big; every piece
    rewritten and checked by scapy, and back on hv2 the VM gets what its peer sent."""
    g = "oversize rewrite (--underlay-mtu 600): segments, fragments, too-big answers"
    payload = bytes(range(256)) * 8  # 2048 bytes
    tcp = frame(NAT1, NAT2, IP(src=V4["src"], dst=V4["dst"], flags="DF", id=7) /
                TCP(sport=40000, dport=443, seq=1000, flags="PA") / Raw(payload))
    udp = frame(NAT1, NAT2, IP(src=V4["src"], dst=V4["dst"], flags=0, id=8) / UDP(sport=5, dport=6) / Raw(payload))
    df = frame(NAT1, NAT2, IP(src=V4["src"], dst=V4["dst"], flags="DF", id=9) / UDP(sport=5, dport=6) / Raw(payload))
    inp, outp = os.path.join(work, "oversize-in.pcap"), os.path.join(work, "oversize-out.pcap")
    write_pcap(inp, [tcp, udp, df])
    r = run(tool, ["egress", "--policy", policy, "--host", "hv1", "--underlay-mtu", "600", "--gso", inp, outp])
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    out = read_pcap(outp) if r.returncode == 0 else []
    if not check(g, r.returncode == 0 and len(lines) == 3, "exit %d, %d lines: %s" % (r.returncode, len(lines), r.stderr[-300:])):
        return
    check(g, lines[0]["verdict"] == "rewrite" and len(lines[0]["out"]) == 4, "TCP: %s" % json.dumps(lines[0]))
    check(g, lines[1]["verdict"] == "rewrite" and len(lines[1]["out"]) == 4, "UDP without DF: %s" % json.dumps(lines[1]))
    check(g, lines[2]["verdict"] == "reply" and lines[2].get("reason") == "too-big", "UDP with DF: %s" % json.dumps(lines[2]))
    segments, fragments_out, answer = out[0:4], out[4:8], out[8:]
    for raw in segments + fragments_out:
        p = Ether(raw)
        check(g, p[IP].src == V4["src_pa"] and p[IP].dst == V4["dst_pa"] and len(p[IP]) <= 600,
              "a piece from %s to %s, %d bytes" % (p[IP].src, p[IP].dst, len(p[IP])))
        check(g, scapy_recomputed(raw) == raw, "scapy computes other checksums for a piece")
    data = b"".join(bytes(Ether(raw)[TCP].payload) for raw in segments)
    check(g, data == payload, "the segments carry %d of %d payload bytes, in order" % (len(data), len(payload)))
    pieces = sorted((Ether(raw)[IP].frag, bytes(Ether(raw)[IP].payload)) for raw in fragments_out)
    whole = b"".join(data for _, data in pieces)
    first = Ether(fragments_out[0])[IP]
    check(g, len(whole) == 8 + len(payload) and whole[8:] == payload, "the fragments carry %d bytes" % len(whole))
    # The UDP checksum of the reassembled datagram, over the PAs' pseudo-header: 0 when right.
    check(g, in4_chksum(17, IP(src=first.src, dst=first.dst, proto=17), whole) == 0,
          "the reassembled datagram's UDP checksum is wrong for the PAs")
    check(g, len(answer) == 1 and Ether(answer[0]).haslayer(ICMP) and Ether(answer[0])[ICMP].type == 3 and
          Ether(answer[0])[ICMP].code == 4 and Ether(answer[0])[ICMP].nexthopmtu == 600, "the too-big answer")
    # Back on hv2: each piece is delivered to blue-nat2 with its CAs.
    r2, l2, o2, _ = pipeline(tool, "ingress", policy, "hv2", segments + fragments_out, work, "oversize-back")
    check(g, r2.returncode == 0 and [l["verdict"] for l in l2] == ["deliver"] * 8, "ingress: %r" % [l.get("verdict") for l in l2])
    for raw in o2:
        p = Ether(raw)
        check(g, p[IP].src == V4["src"] and p[IP].dst == V4["dst"] and scapy_recomputed(raw) == raw,
              "delivered piece %s -> %s" % (p[IP].src, p[IP].dst))


def robustness(tool, policy, work, check, sent, wire_frames):
    rnd = random.Random(5508)

    def variants(frames):
        out = []
        for f in frames:
            out += [f[:k] for k in range(len(f)) if k <= 140 or k % 61 == 0]
            for _ in range(30):
                b = bytearray(f)
                for _ in range(rnd.randint(1, 4)):
                    b[rnd.randrange(len(b))] = rnd.randrange(256)
                out.append(bytes(b))
        return out

    for command, host, frames in (("egress", "hv1", sent), ("ingress", "hv2", wire_frames)):
        g = "%s on every prefix and random corruptions of rewrite frames: no crash, one line each" % command
        mangled = variants(frames)
        r, lines, _, _ = pipeline(tool, command, policy, host, mangled, work, command + "-mangled")
        check(g, r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
        check(g, len(lines) == len(mangled) and all("verdict" in l for l in lines), "%d lines for %d frames" % (len(lines), len(mangled)))
        check(g, all(l["out"] == [] for l in lines if l.get("verdict") == "drop"), "a drop with output frames")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    tool, base_policy, work = sys.argv[1:]
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not found, skipped")
        return 77
    os.makedirs(work, exist_ok=True)
    policy = os.path.join(work, "nat.policy")
    with open(policy, "w") as f:
        f.write(open(base_policy).read() + EXTRA_POLICY)
    check = checker(width=90)
    r = run(tool, ["policy", policy])
    check("the policy (two-tenants + an IPv6 nat pair) is valid", r.returncode == 0, r.stderr.strip())
    got = egress_and_back(tool, policy, work, tshark, check)
    drops(tool, policy, work, check)
    oversize(tool, policy, work, check)
    if got is not None:
        robustness(tool, policy, work, check, *got)
    return 1 if check.report("rewrite_cli") else 0


if __name__ == "__main__":
    sys.exit(main())
