#!/usr/bin/python3
"""`nvgre-pcap show` against scapy, an independent implementation of the same headers.

Crafts a pcap of many frames with scapy (Debian python3-scapy; run with /usr/bin/python3):
valid NVGRE in every shape docs/hnv-rules.md allows, GRE/NVGRE packets breaking each wire rule,
every truncated prefix of a few frames, lengths that lie, and frames that are not NVGRE at all.
Runs `nvgre-pcap show` on it, then checks each output line:
  - valid frames: every field against what scapy itself dissects from the same bytes (GRE key ->
    VSID/FlowID, outer addresses, VLAN, TTL/hop limit, DSCP, ECN, inner MACs, ethertype, inner
    addresses), and the exact key order of docs/nvgre-pcap.md;
  - invalid frames: an `error` with the expected reason, layer and offset;
  - other frames: the expected short description.
Prints one line per check group; exits 1 on any mismatch.

usage: scapy_show.py NVGRE_PCAP WORK_DIR
"""
import ipaddress
import json
import os
import struct
import subprocess
import sys

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
try:
    from scapy.all import (ARP, GRE, ICMPv6EchoRequest, IP, IPv6, IPv6ExtHdrDestOpt,
                           IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, TCP, UDP, Dot1AD, Dot1Q, Ether, Raw, raw)
except ImportError:
    print("scapy is not importable from %s (Debian: apt-get install python3-scapy), skipped" % sys.executable)
    sys.exit(77)

PA_MAC_1, PA_MAC_2 = "02:00:c0:a8:0a:0b", "02:00:c0:a8:0a:0c"
PA4_1, PA4_2 = "192.168.10.11", "192.168.10.12"
PA6_1, PA6_2 = "2001:db8::11", "2001:db8::12"
VM_MAC_1, VM_MAC_2 = "00:15:5d:00:00:05", "00:15:5d:00:00:06"


# ---------------------------------------------------------------------------------------------
# Frame builders
def inner_v4(payload=b"hello, nvgre", **ip):
    return Ether(src=VM_MAC_1, dst=VM_MAC_2) / IP(src="10.0.0.5", dst="10.0.0.6", **ip) / UDP(sport=5000, dport=5001) / Raw(payload)


def inner_v6(**ip):
    return Ether(src=VM_MAC_1, dst=VM_MAC_2) / IPv6(src="fd00::5", dst="fd00::6", **ip) / UDP(sport=5000, dport=5001) / Raw(b"v6")


def inner_arp():
    return Ether(src=VM_MAC_1, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=VM_MAC_1, psrc="10.0.0.5", pdst="10.0.0.6")


def inner_other(ethertype=0x88B5, payload=b"\x01\x02\x03\x04"):
    return Ether(src=VM_MAC_1, dst=VM_MAC_2, type=ethertype) / Raw(payload)


def nvgre_hdr(vsid=5001, flow=42, **gre):
    fields = dict(key_present=1, key=(vsid << 8) | flow, proto=0x6558)
    fields.update(gre)
    return GRE(**fields)


def outer_l2(vlan=None, tags=None):
    p = Ether(src=PA_MAC_1, dst=PA_MAC_2)
    if tags is not None:
        for t in tags:
            p = p / t
    elif vlan is not None:
        p = p / Dot1Q(vlan=vlan)
    return p


def over_v4(inner, vsid=5001, flow=42, vlan=None, tags=None, gre=None, **ip):
    ip.setdefault("flags", "DF")
    ip.setdefault("ttl", 64)
    return raw(outer_l2(vlan, tags) / IP(src=PA4_1, dst=PA4_2, **ip) / nvgre_hdr(vsid, flow, **(gre or {})) / inner)


def over_v6(inner, vsid=5001, flow=42, vlan=None, ext=None, gre=None, **ip):
    ip.setdefault("hlim", 64)
    p = outer_l2(vlan) / IPv6(src=PA6_1, dst=PA6_2, **ip)
    if ext is not None:
        p = p / ext
    return raw(p / nvgre_hdr(vsid, flow, **(gre or {})) / inner)


def set_ipv4_total_len(frame, l3, total):
    """Rewrites the IPv4 total length at offset l3 and fixes the header checksum."""
    b = bytearray(frame)
    struct.pack_into("!H", b, l3 + 2, total)
    struct.pack_into("!H", b, l3 + 10, 0)
    ihl = (b[l3] & 0x0F) * 4
    s = sum(struct.unpack_from("!%dH" % (ihl // 2), b, l3))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    struct.pack_into("!H", b, l3 + 10, ~s & 0xFFFF)
    return bytes(b)


def set_ipv6_payload_len(frame, l3, plen):
    b = bytearray(frame)
    struct.pack_into("!H", b, l3 + 4, plen)
    return bytes(b)


# ---------------------------------------------------------------------------------------------
# What scapy says about a frame that should be valid NVGRE: the `show` object docs/nvgre-pcap.md prescribes.
def addr(a):
    return ipaddress.ip_address(a)


def scapy_expectation(frame):
    p = Ether(frame)
    vlan = None
    l3 = p.payload
    if isinstance(l3, Dot1Q):
        vlan = l3.vlan
        l3 = l3.payload
    if isinstance(l3, IP):
        outer = {"l3": "ipv4", "src": l3.src, "dst": l3.dst, "vlan": vlan, "ttl": l3.ttl,
                 "dscp": l3.tos >> 2, "ecn": l3.tos & 3}
    elif isinstance(l3, IPv6):
        outer = {"l3": "ipv6", "src": l3.src, "dst": l3.dst, "vlan": vlan, "ttl": l3.hlim,
                 "dscp": l3.tc >> 2, "ecn": l3.tc & 3}
    else:
        raise AssertionError("scapy sees no outer IP")
    g = l3.getlayer(GRE)
    assert g is not None and g.key_present == 1 and g.proto == 0x6558, "scapy sees no NVGRE"
    ie = g.payload
    assert isinstance(ie, Ether), "scapy sees no inner Ethernet"
    inner = {"src_mac": ie.src, "dst_mac": ie.dst, "ethertype": ie.type}
    il3 = ie.payload
    if isinstance(il3, IP):
        inner.update(l3="ipv4", src=il3.src, dst=il3.dst)
    elif isinstance(il3, IPv6):
        inner.update(l3="ipv6", src=il3.src, dst=il3.dst)
    elif isinstance(il3, ARP):
        inner.update(l3="arp")
    else:
        inner.update(l3="other")
    return {"nvgre": {"vsid": g.key >> 8, "flow_id": g.key & 0xFF}, "outer": outer, "inner": inner}


def scapy_other(frame):
    """The `other` description, from scapy's dissection."""
    p = Ether(frame)
    l3 = p.payload
    while isinstance(l3, (Dot1Q, Dot1AD)):
        l3 = l3.payload
    if isinstance(l3, ARP):
        return "arp"
    if isinstance(l3, IP):
        return "ipv4 protocol %d" % l3.proto
    if isinstance(l3, IPv6):
        nh, h = l3.nh, l3.payload
        while isinstance(h, (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt)):
            nh, h = h.nh, h.payload
        return "ipv6 next header %d" % nh
    under = p
    while isinstance(under.payload, (Dot1Q, Dot1AD)):
        under = under.payload
    return "ethertype 0x%04x" % under.type


# ---------------------------------------------------------------------------------------------
# The frames, by group. Each entry: (name, bytes, expectation) where expectation is
# ("nvgre",) | ("error", reason, layer, offset) | ("other",)
def build_groups():
    groups = []

    valid = []
    valid.append(("v4 outer, inner ipv4 (docs/nvgre-pcap.md example)", over_v4(inner_v4())))
    valid.append(("v4 outer, inner ipv6", over_v4(inner_v6(), vsid=4096, flow=0)))
    valid.append(("v4 outer, inner arp", over_v4(inner_arp(), vsid=0xFFFFFE, flow=255)))
    valid.append(("v4 outer, inner other ethertype", over_v4(inner_other(), vsid=0x123456, flow=2)))
    valid.append(("v4 outer, inner lldp ethertype", over_v4(inner_other(0x88CC), vsid=70000, flow=7)))
    valid.append(("v6 outer, inner ipv4", over_v6(inner_v4(), vsid=5001, flow=42)))
    valid.append(("v6 outer, inner ipv6", over_v6(inner_v6(), vsid=8192, flow=1)))
    valid.append(("v6 outer, inner arp", over_v6(inner_arp(), vsid=0xABCDEF, flow=0x80)))
    valid.append(("v4 outer, vlan 100", over_v4(inner_v4(), vlan=100)))
    valid.append(("v4 outer, vlan 4094, prio bits", raw(Ether(src=PA_MAC_1, dst=PA_MAC_2) / Dot1Q(vlan=4094, prio=5, id=1) /
                                                       IP(src=PA4_1, dst=PA4_2, flags="DF") / nvgre_hdr() / inner_v4())))
    valid.append(("v6 outer, vlan 1", over_v6(inner_v6(), vlan=1, vsid=4097, flow=3)))
    valid.append(("v4 outer, dscp 46 ecn 1 ttl 1", over_v4(inner_v4(), tos=(46 << 2) | 1, ttl=1)))
    valid.append(("v4 outer, ecn CE ttl 255, no DF", over_v4(inner_v4(), tos=3, ttl=255, flags=0)))
    valid.append(("v6 outer, dscp 10 ecn 2 hop limit 255", over_v6(inner_v4(), tc=(10 << 2) | 2, hlim=255)))
    valid.append(("v6 outer, flow label, hop limit 1", over_v6(inner_v4(), fl=0xABCDE, hlim=1)))
    valid.append(("v6 outer, destination options before GRE", over_v6(inner_v4(), ext=IPv6ExtHdrDestOpt())))
    valid.append(("v6 outer, hop-by-hop + destination options", over_v6(inner_v6(), ext=IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt())))
    valid.append(("v4 outer with IP options", over_v4(inner_v4(), options=[b"\x01\x01\x01\x00"])))
    valid.append(("reserved0 bits 6-12 set (ignored)", over_v4(inner_v4(), gre={"recursion_control": 3, "flags": 0x1F})))
    valid.append(("reserved0 bit 12 only", over_v4(inner_v4(), gre={"flags": 0x01})))
    short = over_v4(inner_other(0x9000, b""), vsid=4096, flow=9)  # 56 bytes: padded to 60
    valid.append(("Ethernet padding (zeros) after a short packet", short + b"\x00" * (60 - len(short))))
    valid.append(("Ethernet padding (0xaa) after a short packet", short + b"\xaa" * 10))
    valid.append(("padding after a v6 packet", over_v6(inner_arp()) + b"\x55" * 7))
    valid.append(("inner ipv4 with inner padding", over_v4(inner_v4(b"") / Raw(b"\x00" * 6))))
    valid.append(("inner ipv4 fragment (not judged)", over_v4(inner_v4(flags="MF"))))
    valid.append(("inner ipv6 with fragment header (not judged)", over_v4(
        Ether(src=VM_MAC_1, dst=VM_MAC_2) / IPv6(src="fd00::5", dst="fd00::6") / IPv6ExtHdrFragment(m=1) / UDP())))
    valid.append(("inner broadcast/multicast MACs", over_v4(Ether(src=VM_MAC_1, dst="33:33:00:00:00:01") / IPv6(src="fe80::1", dst="ff02::1") / ICMPv6EchoRequest())))
    for v, f in [(4096, 0), (4096, 255), (0xFFFFFE, 0), (0xFFFFFE, 255), (0x001001, 0x10), (0x800000, 0x7F)]:
        valid.append(("vsid %d flow %d" % (v, f), over_v4(inner_v4(), vsid=v, flow=f)))
    groups.append(("valid NVGRE, field by field against scapy", [(n, b, ("nvgre",)) for n, b in valid]))

    G4, G6 = 34, 54  # GRE offset behind untagged IPv4 / IPv6 outer headers
    # Fragments: the offset is the IPv4 flags/fragment-offset field, or the IPv6 Fragment header.
    bad = []
    bad.append(("C bit (valid checksum)", over_v4(inner_v4(), gre={"chksum_present": 1}), ("error", "bad-gre-flags", "nvgre", G4)))
    bad.append(("S bit", over_v4(inner_v4(), gre={"seqnum_present": 1, "sequence_number": 7}), ("error", "bad-gre-flags", "nvgre", G4)))
    bad.append(("C+K+S", over_v4(inner_v4(), gre={"chksum_present": 1, "seqnum_present": 1}), ("error", "bad-gre-flags", "nvgre", G4)))
    bad.append(("no K bit", raw(outer_l2() / IP(src=PA4_1, dst=PA4_2) / GRE(proto=0x6558) / inner_v4()), ("error", "missing-key", "nvgre", G4)))
    bad.append(("version 1", over_v4(inner_v4(), gre={"version": 1}), ("error", "bad-version", "gre", G4 + 1)))
    bad.append(("version 7", over_v4(inner_v4(), gre={"version": 7}), ("error", "bad-version", "gre", G4 + 1)))
    bad.append(("R bit", over_v4(inner_v4(), gre={"routing_present": 1}), ("error", "gre-routing", "gre", G4)))
    bad.append(("reserved bit 4 (strict source route)", over_v4(inner_v4(), gre={"strict_route_source": 1}), ("error", "bad-gre-flags", "gre", G4)))
    bad.append(("reserved bit 5 (recursion msb)", over_v4(inner_v4(), gre={"recursion_control": 4}), ("error", "bad-gre-flags", "gre", G4)))
    bad.append(("protocol 0x0800", raw(outer_l2() / IP(src=PA4_1, dst=PA4_2) / GRE(key_present=1, key=5001 << 8, proto=0x0800) / IP() / UDP()),
                ("error", "bad-protocol", "nvgre", G4 + 2)))
    bad.append(("protocol 0x86dd", raw(outer_l2() / IP(src=PA4_1, dst=PA4_2) / GRE(key_present=1, key=5001 << 8, proto=0x86DD) / IPv6() / UDP()),
                ("error", "bad-protocol", "nvgre", G4 + 2)))
    for v in (0, 1, 4095, 0xFFFFFF):
        bad.append(("vsid 0x%06x" % v, over_v4(inner_v4(), vsid=v, flow=1), ("error", "reserved-vsid", "nvgre", G4 + 4)))
    bad.append(("vsid 0 over v6", over_v6(inner_v4(), vsid=0), ("error", "reserved-vsid", "nvgre", G6 + 4)))
    bad.append(("inner 802.1Q", over_v4(Ether(src=VM_MAC_1, dst=VM_MAC_2) / Dot1Q(vlan=10) / IP() / UDP()), ("error", "inner-vlan", "inner-vlan", G4 + 8 + 12)))
    bad.append(("inner 802.1ad", over_v4(Ether(src=VM_MAC_1, dst=VM_MAC_2, type=0x88A8) / Dot1AD(vlan=10) / IP()), ("error", "inner-vlan", "inner-vlan", G4 + 8 + 12)))
    bad.append(("inner 802.1Q, v6 outer with vlan", over_v6(Ether() / Dot1Q(vlan=3) / IPv6(), vlan=7), ("error", "inner-vlan", "inner-vlan", 18 + 40 + 8 + 12)))
    bad.append(("outer IPv4 MF", over_v4(inner_v4(), flags="MF"), ("error", "fragmented", "ipv4", 14 + 6)))
    bad.append(("outer IPv4 non-first fragment", over_v4(inner_v4(), flags=0, frag=100), ("error", "fragmented", "ipv4", 14 + 6)))
    bad.append(("outer IPv4 last fragment, vlan", over_v4(inner_v4(), vlan=5, flags=0, frag=1), ("error", "fragmented", "ipv4", 18 + 6)))
    bad.append(("outer IPv6 fragment header", over_v6(inner_v4(), ext=IPv6ExtHdrFragment(m=1, id=1)), ("error", "fragmented", "ipv6-extension", 54)))
    bad.append(("outer IPv6 atomic fragment", over_v6(inner_v4(), ext=IPv6ExtHdrFragment(m=0, offset=0)), ("error", "fragmented", "ipv6-extension", 54)))
    bad.append(("outer IPv6 dest opts + non-first fragment", over_v6(inner_v4(), ext=IPv6ExtHdrDestOpt() / IPv6ExtHdrFragment(offset=10)),
                ("error", "fragmented", "ipv6-extension", 62)))
    bad.append(("bad outer IPv4 checksum", over_v4(inner_v4(), chksum=0xDEAD), ("error", "bad-checksum", "ipv4", 24)))
    bad.append(("zero outer IPv4 checksum", over_v4(inner_v4(), chksum=0), ("error", "bad-checksum", "ipv4", 24)))
    bad.append(("GRE C bit, bad checksum", over_v4(inner_v4(), gre={"chksum_present": 1, "chksum": 0x1234}), ("error", "bad-checksum", "gre", G4 + 4)))
    bad.append(("outer QinQ (802.1ad + 802.1Q)", over_v4(inner_v4(), tags=[Dot1AD(vlan=10), Dot1Q(vlan=20)]), ("error", "bad-outer-vlan", "vlan", 12)))
    bad.append(("outer 802.1ad only", over_v4(inner_v4(), tags=[Dot1AD(vlan=10)]), ("error", "bad-outer-vlan", "vlan", 12)))
    bad.append(("outer two 802.1Q tags", over_v4(inner_v4(), tags=[Dot1Q(vlan=10), Dot1Q(vlan=20)]), ("error", "bad-outer-vlan", "vlan", 12)))
    bad.append(("outer IPv4 version 5", raw(outer_l2() / IP(version=5, src=PA4_1, dst=PA4_2, proto=47) / nvgre_hdr() / inner_v4()), ("error", "bad-version", "ipv4", 14)))
    bad.append(("outer IPv6 version 4 under ethertype 0x86dd", raw(Ether(type=0x86DD) / IP(proto=47) / nvgre_hdr() / inner_v4() / Raw(b"\x00" * 20)),
                ("error", "bad-version", "ipv6", 14)))
    bad.append(("outer IPv4 IHL 4", raw(outer_l2() / IP(ihl=4, src=PA4_1, dst=PA4_2, proto=47) / nvgre_hdr() / inner_v4()), ("error", "bad-header-length", "ipv4", 14)))
    groups.append(("GRE/NVGRE rule broken: reason, layer, offset", bad))

    lying = []
    base4 = over_v4(inner_v4())           # 96 bytes: outer IPv4 total length 82
    base6 = over_v6(inner_v6())
    lying.append(("IPv4 total length +1", set_ipv4_total_len(base4, 14, 83), ("error", "truncated", "ipv4", 16)))
    lying.append(("IPv4 total length 65535", set_ipv4_total_len(base4, 14, 65535), ("error", "truncated", "ipv4", 16)))
    lying.append(("IPv4 total length 19 (< header)", set_ipv4_total_len(base4, 14, 19), ("error", "bad-length", "ipv4", 16)))
    lying.append(("IPv4 total length 0", set_ipv4_total_len(base4, 14, 0), ("error", "bad-length", "ipv4", 16)))
    lying.append(("IPv4 total length 20 (no GRE)", set_ipv4_total_len(base4, 14, 20), ("error", "truncated", "gre", G4)))
    lying.append(("IPv4 total length 26 (half NVGRE)", set_ipv4_total_len(base4, 14, 26), ("error", "truncated", "gre", G4 + 4)))
    lying.append(("IPv4 total length 38 (short inner Ethernet)", set_ipv4_total_len(base4, 14, 38), ("error", "truncated", "inner-ethernet", 42)))
    lying.append(("IPv4 total length 81 (inner IPv4 cut)", set_ipv4_total_len(base4, 14, 81), ("error", "truncated", "inner-ipv4", 58)))
    lying.append(("IPv6 payload length +1", set_ipv6_payload_len(base6, 14, len(base6) - 54 + 1), ("error", "truncated", "ipv6", 18)))
    lying.append(("IPv6 payload length 0", set_ipv6_payload_len(base6, 14, 0), ("error", "truncated", "gre", G6)))
    lying.append(("IPv6 payload length 10 (short inner Ethernet)", set_ipv6_payload_len(base6, 14, 10), ("error", "truncated", "inner-ethernet", G6 + 8)))
    inner_big = raw(inner_v4())
    inner_big = inner_big[:16] + struct.pack("!H", 200) + inner_big[18:]  # inner total length 200
    lying.append(("inner IPv4 total length too big", over_v4(Raw(inner_big)), ("error", "truncated", "inner-ipv4", 58)))
    inner_small = raw(inner_v4())
    inner_small = inner_small[:16] + struct.pack("!H", 10) + inner_small[18:]
    lying.append(("inner IPv4 total length < header", over_v4(Raw(inner_small)), ("error", "bad-length", "inner-ipv4", 58)))
    inner6 = bytearray(raw(inner_v6()))
    struct.pack_into("!H", inner6, 14 + 4, 1000)
    lying.append(("inner IPv6 payload length too big", over_v4(Raw(bytes(inner6))), ("error", "truncated", "inner-ipv6", 42 + 14 + 4)))
    arp_short = raw(inner_arp())[:14 + 20]
    lying.append(("inner ARP cut short", over_v4(Raw(arp_short)), ("error", "truncated", "inner-arp", 56)))
    arp_bad = bytearray(raw(inner_arp()))
    arp_bad[14 + 4] = 8  # hardware length 8
    lying.append(("inner ARP hardware length 8", over_v4(Raw(bytes(arp_bad))), ("error", "bad-value", "inner-arp", 56 + 4)))
    lying.append(("inner IPv4 version 6 under ethertype 0x0800", over_v4(Ether(src=VM_MAC_1, dst=VM_MAC_2, type=0x0800) / IPv6()), ("error", "bad-version", "inner-ipv4", 56)))
    groups.append(("lengths that lie", lying))

    # Every prefix of a frame as captured (snapped), and every prefix relabelled so that the IP
    # length fields agree with what is left: each layer in turn reports the truncation.
    trunc = []
    for L in range(len(base4)):
        exp = (("error", "truncated", "ethernet", 0) if L < 14 else
               ("error", "truncated", "ipv4", 14) if L < 34 else ("error", "truncated", "ipv4", 16))
        trunc.append(("v4 snapped at %d" % L, base4[:L], exp))
    for L in range(34, len(base4)):
        n = L - 34  # bytes of GRE packet left
        exp = (("error", "truncated", "gre", 34) if n < 4 else ("error", "truncated", "gre", 38) if n < 8 else
               ("error", "truncated", "inner-ethernet", 42) if n < 22 else ("error", "truncated", "inner-ipv4", 56) if n < 42 else
               ("error", "truncated", "inner-ipv4", 58))
        trunc.append(("v4 relabelled at %d" % L, set_ipv4_total_len(base4[:L], 14, L - 14), exp))
    for L in range(54, len(base6)):
        n = L - 54
        exp = (("error", "truncated", "gre", 54) if n < 4 else ("error", "truncated", "gre", 58) if n < 8 else
               ("error", "truncated", "inner-ethernet", 62) if n < 22 else ("error", "truncated", "inner-ipv6", 76) if n < 62 else
               ("error", "truncated", "inner-ipv6", 80))
        trunc.append(("v6 relabelled at %d" % L, set_ipv6_payload_len(base6[:L], 14, L - 54), exp))
    for L in range(14, len(base6)):
        exp = ("error", "truncated", "ipv6", 14) if L < 54 else ("error", "truncated", "ipv6", 18)
        trunc.append(("v6 snapped at %d" % L, base6[:L], exp))
    vl = over_v4(inner_v4(), vlan=9)
    for L in range(12, 19):
        exp = ("error", "truncated", "vlan", 12) if L < 18 else ("error", "truncated", "ipv4", 18)
        if L < 14:
            exp = ("error", "truncated", "ethernet", 0)
        trunc.append(("vlan snapped at %d" % L, vl[:L], exp))
    groups.append(("truncated prefixes, each layer", trunc))

    other = []
    other.append(("ARP request", raw(Ether(src=VM_MAC_1, dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.0.0.6"))))
    other.append(("ARP in 802.1Q", raw(Ether() / Dot1Q(vlan=3) / ARP())))
    other.append(("IPv4/TCP", raw(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=80))))
    other.append(("IPv4/UDP in 802.1Q", raw(Ether() / Dot1Q(vlan=100) / IP() / UDP())))
    other.append(("IPv4/TCP in QinQ", raw(Ether() / Dot1AD(vlan=1) / Dot1Q(vlan=2) / IP() / TCP())))
    other.append(("IPv6/ICMPv6", raw(Ether() / IPv6(src="fe80::1", dst="ff02::1") / ICMPv6EchoRequest())))
    other.append(("IPv6 hop-by-hop/UDP", raw(Ether() / IPv6() / IPv6ExtHdrHopByHop() / UDP())))
    other.append(("IPv4 protocol 4 (IP in IP)", raw(Ether() / IP(proto=4) / IP())))
    # A non-GRE packet is "other" even with an unfinished header checksum (checksum offload).
    other.append(("IPv4/UDP, zero header checksum", raw(Ether() / IP(src="10.0.0.1", dst="10.0.0.2", chksum=0) / UDP())))
    other.append(("LLDP", raw(Ether(dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(b"\x02\x07\x04\x00\x15\x5d\x00\x00\x05\x00\x00"))))
    other.append(("ethertype 0x9000 (loopback)", raw(Ether(type=0x9000) / Raw(b"\x00" * 46))))
    groups.append(("not NVGRE at all (other), against scapy", [(n, b, ("other",)) for n, b in other]))
    return groups


# ---------------------------------------------------------------------------------------------
def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, b in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i, len(b), len(b)))
            f.write(b)


def same(a, b):
    """Field equality; addresses compared as addresses (text forms may differ in case/zeros)."""
    if isinstance(a, str) and isinstance(b, str) and a != b:
        try:
            return addr(a) == addr(b)
        except ValueError:
            return a.lower() == b.lower()
    return a == b


def compare_objects(path, want, got, problems):
    if not isinstance(got, dict):
        problems.append("%s: expected an object, got %r" % (path, got))
        return
    if list(got.keys()) != list(want.keys()):
        problems.append("%s: keys %s, expected %s (docs/nvgre-pcap.md order)" % (path, list(got.keys()), list(want.keys())))
    for k, v in want.items():
        if k not in got:
            continue
        if isinstance(v, dict):
            compare_objects(path + "." + k, v, got[k], problems)
        elif not same(v, got[k]) or type(v) is not type(got[k]):
            problems.append("%s.%s: nvgre-pcap says %r, scapy says %r" % (path, k, got[k], v))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    tool, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    groups = build_groups()
    frames = [b for _, entries in groups for _, b, _ in entries]
    pcap = os.path.join(work, "scapy_show.pcap")
    write_pcap(pcap, frames)

    run = subprocess.run([tool, "show", pcap], capture_output=True, text=True)
    if run.returncode != 0:
        print("FAIL: nvgre-pcap show exited %d: %s" % (run.returncode, run.stderr.strip()))
        return 1
    lines = run.stdout.splitlines()
    if len(lines) != len(frames):
        print("FAIL: %d frames in, %d lines out" % (len(frames), len(lines)))
        return 1

    failures = 0
    n = 0
    for title, entries in groups:
        bad = []
        for name, frame, exp in entries:
            n += 1
            try:
                got = json.loads(lines[n - 1])
            except ValueError as e:
                bad.append("frame %d (%s): not JSON (%s): %s" % (n, name, e, lines[n - 1]))
                continue
            problems = []
            if got.get("n") != n:
                problems.append("n is %r" % got.get("n"))
            kind = exp[0]
            if kind == "nvgre":
                want = dict(n=n, **scapy_expectation(frame))
                compare_objects("", want, got, problems)
                # inner src/dst only for ipv4/ipv6 (docs/nvgre-pcap.md)
                if want["inner"]["l3"] in ("arp", "other") and ("src" in got.get("inner", {}) or "dst" in got.get("inner", {})):
                    problems.append("inner src/dst present for l3 %s" % want["inner"]["l3"])
            elif kind == "error":
                _, reason, layer, offset = exp
                want = {"n": n, "error": reason, "layer": layer, "offset": offset}
                if got != want or list(got.keys()) != list(want.keys()):
                    problems.append("got %s, expected %s" % (json.dumps(got), json.dumps(want)))
            else:
                want = {"n": n, "other": scapy_other(frame)}
                if got != want or list(got.keys()) != list(want.keys()):
                    problems.append("got %s, expected %s" % (json.dumps(got), json.dumps(want)))
            if problems:
                bad.append("frame %d (%s): %s" % (n, name, "; ".join(problems)))
        status = "ok" if not bad else "FAILED"
        print("%-55s %3d frames, %3d match  %s" % (title, len(entries), len(entries) - len(bad), status))
        for b in bad:
            print("    " + b)
        failures += len(bad)
    print("scapy_show: %d frames, %d mismatches" % (len(frames), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
