#!/usr/bin/python3
"""`nvgre-pcap egress --underlay-mtu N [--gso]` (docs/nvgre-pcap.md; docs/hnv-rules.md, wire rule 7) against scapy:
every segment, fragment and ICMP message the library makes is re-dissected and its checksums,
sizes, flags and contents recomputed by scapy.

  mtu_cli.py NVGRE_PCAP POLICY WORK_DIR       (POLICY: examples/policies/two-tenants.policy)

Frames sent by red-web (hv1) to red-db (hv2), underlay MTU 1500 unless said:
 1. a 1500-byte IPv4 TCP packet with DF: ICMP Fragmentation Needed back to red-web, from the
    gateway 10.0.0.1 and the router MAC, MTU 1458, quoting 548 bytes, 576 in all;
 2. a 1500-byte IPv6 TCP packet (IPv6 CA over the IPv4 PA): ICMPv6 Packet Too Big, MTU 1458,
    from fd00::1, 1280 bytes in all, quoting the first 1232;
 3. a 4000-byte IPv4 UDP datagram without DF: fragments, each its own NVGRE packet to hv2
    with one FlowID, each outer packet <= 1500, reassembled by scapy into the original;
 4. a 20000-byte IPv4 TCP segment and a 9000-byte IPv6 one with --gso: segments, each outer
    packet <= 1500, inner IP and TCP checksums recomputed by scapy, sequence numbers advancing,
    PSH/FIN only on the last, payloads concatenating to the original;
 5. the same TCP segment without --gso: too big (answered), and with --underlay-mtu 9000 and
    --gso: 3 segments; an ICMP error itself too big is dropped (never answered);
 6. more than 10 too-big packets from one source: the first 10 answered, then dropped
    (rate limit per source).
Exits 1 on any mismatch, 77 when scapy is missing.
"""
import json
import os
import subprocess
import sys

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
try:
    from scapy.all import GRE, ICMP, IP, IPv6, ICMPv6PacketTooBig, TCP, UDP, Ether, Raw, defragment, rdpcap
except ImportError:
    print("scapy is not importable from %s (Debian: apt-get install python3-scapy), skipped" % sys.executable)
    sys.exit(77)

WEB, DB, ROUTER = "00:15:5d:00:00:05", "00:15:5d:00:00:06", "02:00:5e:00:01:01"
HV1_PA, HV2_PA = "192.168.10.11", "192.168.10.12"

tool, policy, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("    FAILED: " + what)
    return cond

from interop_support import write_pcap  # noqa: E402


def egress(name, frames, *options):
    """Runs egress on hv1; returns (JSON lines, output frames)."""
    inp, out = os.path.join(work, name + ".in.pcap"), os.path.join(work, name + ".out.pcap")
    write_pcap(inp, frames, step_usec=1)  # the too-big rate limit runs on these timestamps
    r = subprocess.run([tool, "egress", "--policy", policy, "--host", "hv1"] + list(options) + [inp, out],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: exit {r.returncode}: {r.stderr.strip()}")
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    produced = [bytes(p) for p in rdpcap(out)] if os.path.getsize(out) > 24 else []
    return lines, produced


def inner_of(frame):
    """The inner Ethernet frame of an NVGRE packet from hv1 to hv2, checking the outer headers."""
    o = Ether(frame)
    check(IP in o and o[IP].src == HV1_PA and o[IP].dst == HV2_PA and o[IP].proto == 47, "outer IPv4 hv1 -> hv2")
    outer = IP(bytes(o[IP]))
    want = outer.chksum
    del outer.chksum
    check(IP(bytes(outer)).chksum == want, "outer IPv4 header checksum")
    g = o[GRE]
    check(g.proto == 0x6558 and g.key_present == 1 and g.chksum_present == 0 and g.seqnum_present == 0, "NVGRE bits")
    return bytes(g.payload), g.key >> 8, g.key & 0xFF, len(o[IP])


def tcp_frame(src, dst, payload_len, v6=False, flags="PA", seq=1000):
    ip = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst, flags="DF", id=0x4242)
    return bytes(Ether(src=WEB, dst=DB) / ip / TCP(sport=40000, dport=5001, seq=seq, flags=flags) /
                 Raw(bytes((i * 31 + 7) & 0xFF for i in range(payload_len))))


def recomputed_ok(layer_bytes, cls, depth=None):
    """scapy recomputes the checksums of the first `depth` layers of `layer_bytes` (dissected as
    `cls`; all when None) and agrees. Quotes inside ICMP errors and first fragments carry
    transport checksums over bytes that are not all there, so those pass a depth."""
    p = cls(layer_bytes)
    q = cls(layer_bytes)
    for n, l in enumerate(q.iterpayloads()):
        if depth is not None and n >= depth:
            break
        for field in ("chksum", "cksum"):
            if field in l.fields:
                setattr(l, field, None)
    return bytes(cls(bytes(q))) == bytes(p)


# 1. IPv4 TCP 1500 with DF: ICMP fragmentation needed.
big4 = tcp_frame("10.0.0.5", "10.0.0.6", 1460)
lines, out = egress("icmp4", [big4], "--underlay-mtu", "1500")
print("1. IPv4 too big:", lines[0])
if check(lines[0]["verdict"] == "reply" and len(out) == 1, "verdict reply, one frame"):
    e = Ether(out[0])
    check(e.dst == WEB and e.src == ROUTER, "back to red-web from the router MAC")
    check(e[IP].src == "10.0.0.1" and e[IP].dst == "10.0.0.5" and len(e[IP]) == 576, "from the gateway, 576 bytes")
    check(e[ICMP].type == 3 and e[ICMP].code == 4 and e[ICMP].nexthopmtu == 1458, "type 3 code 4, MTU 1458")
    check(recomputed_ok(bytes(e[IP]), IP, depth=2), "scapy agrees on the IP and ICMP checksums")
    check(bytes(e[ICMP].payload)[:548] == big4[14:14 + 548], "the quote: the first 548 bytes of the packet")

# 2. IPv6 TCP 1500: ICMPv6 packet too big.
big6 = tcp_frame("fd00::5", "fd00::6", 1440, v6=True)
lines, out = egress("icmp6", [big6])
print("2. IPv6 too big:", lines[0])
if check(lines[0]["verdict"] == "reply" and len(out) == 1, "verdict reply, one frame"):
    e = Ether(out[0])
    check(e.dst == WEB and e.src == ROUTER and e[IPv6].src == "fd00::1" and e[IPv6].dst == "fd00::5", "addresses")
    check(len(e[IPv6]) == 1280, "1280 bytes in all")
    check(ICMPv6PacketTooBig in e and e[ICMPv6PacketTooBig].mtu == 1458, "packet too big, MTU 1458")
    check(recomputed_ok(bytes(e[IPv6]), IPv6, depth=2), "scapy agrees on the ICMPv6 checksum")
    check(bytes(e[ICMPv6PacketTooBig].payload)[:1232] == big6[14:14 + 1232], "the quote: the first 1232 bytes")

# 3. IPv4 UDP 4000 without DF: fragments.
udp = bytes(Ether(src=WEB, dst=DB) / IP(src="10.0.0.5", dst="10.0.0.6", id=777) /
            UDP(sport=7000, dport=7001) / Raw(bytes(i & 0xFF for i in range(4000))))
lines, out = egress("fragments", [udp])
print("3. fragments:", lines[0])
if check(lines[0]["verdict"] == "encap" and len(out) == 3, "verdict encap, 3 fragments"):
    inner, flows = [], set()
    for f in out:
        i, vsid, flow, outer_len = inner_of(f)
        check(vsid == 5001 and outer_len <= 1500, "VSID 5001, outer packet <= 1500")
        flows.add(flow)
        ie = Ether(i)
        check(ie.src == WEB and ie.dst == DB, "inner MACs")
        check(recomputed_ok(bytes(ie[IP]), IP, depth=1), "fragment header checksum")
        inner.append(ie[IP])
    check(len(flows) == 1, "one FlowID for the datagram's fragments")
    whole = defragment(inner)
    check(len(whole) == 1 and bytes(whole[0][UDP]) == bytes(Ether(udp)[UDP]), "scapy reassembles the original datagram")
    check(len(whole) == 1 and recomputed_ok(bytes(whole[0]), IP), "the reassembled UDP checksum is valid")

# 4. TCP segmentation with --gso, IPv4 and IPv6 inner.
for name, frame, v6, count in (("gso4", tcp_frame("10.0.0.5", "10.0.0.6", 20000, flags="FPA"), False, 15),
                               ("gso6", tcp_frame("fd00::5", "fd00::6", 9000, v6=True, flags="PA"), True, 7)):
    lines, out = egress(name, [frame], "--gso")
    print(f"4. {name}:", lines[0], f"{len(out)} segments")
    if not check(lines[0]["verdict"] == "encap" and len(out) == count, f"{name}: verdict encap, {count} segments"):
        continue
    payload, flows = b"", set()
    original = Ether(frame)
    for k, f in enumerate(out):
        i, vsid, flow, outer_len = inner_of(f)
        flows.add(flow)
        check(outer_len <= 1500, f"{name} segment {k}: outer packet {outer_len} <= 1500")
        ie = Ether(i)
        ipl = IPv6 if v6 else IP
        check(recomputed_ok(bytes(ie[ipl]), ipl), f"{name} segment {k}: IP and TCP checksums")
        t = ie[TCP]
        check(t.seq == original[TCP].seq + len(payload), f"{name} segment {k}: sequence number")
        last = k == len(out) - 1
        check(("P" in str(t.flags)) == last and ("F" in str(t.flags)) == (last and "F" in str(original[TCP].flags)),
              f"{name} segment {k}: PSH/FIN on the last only ({t.flags})")
        if not v6:
            check(ie[IP].id == (0x4242 + k) & 0xFFFF, f"{name} segment {k}: IP id")
        payload += bytes(t.payload)
    check(payload == bytes(original[TCP].payload), f"{name}: the payloads concatenate to the original")
    check(len(flows) == 1, f"{name}: one FlowID")

# 5. Without --gso: answered; with --underlay-mtu 9000 --gso: 3 segments; an ICMP error too big: dropped.
big_tcp = tcp_frame("10.0.0.5", "10.0.0.6", 20000)
lines, out = egress("no-gso", [big_tcp])
check(lines[0]["verdict"] == "reply", "without --gso a TSO-sized segment is answered too big")
lines, out = egress("jumbo", [big_tcp], "--underlay-mtu", "9000", "--gso")
check(lines[0]["verdict"] == "encap" and len(out) == 3, f"--underlay-mtu 9000 --gso: 3 segments ({lines[0]})")
icmp_error = bytes(Ether(src=WEB, dst=DB) / IP(src="10.0.0.5", dst="10.0.0.6", flags="DF") /
                   ICMP(type=3, code=3) / Raw(b"q" * 1600))
lines, out = egress("icmp-error", [icmp_error])
check(lines[0]["verdict"] == "drop" and lines[0]["reason"] == "too-big", f"an ICMP error is never answered ({lines[0]})")
print("5. without --gso, jumbo, ICMP error: checked")

# 6. Rate limit: 12 too-big packets from red-web in one burst: 10 answers, then drops.
lines, out = egress("rate", [big4] * 12)
verdicts = [l["verdict"] for l in lines]
check(verdicts == ["reply"] * 10 + ["drop"] * 2, f"10 answered, 2 dropped: {verdicts}")
print("6. rate limit:", verdicts.count("reply"), "answered,", verdicts.count("drop"), "dropped")

print(f"mtu_cli: {failures} failures")
sys.exit(1 if failures else 0)
