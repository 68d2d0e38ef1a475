#!/usr/bin/python3
"""`nvgre-pcap egress` / `ingress` (docs/nvgre-pcap.md) end to end, against scapy and tshark.

  pipeline_cli.py NVGRE_PCAP POLICY WORK_DIR       (POLICY: examples/policies/two-tenants.policy)

1. egress on hv1: scapy crafts frames sent by red-web (00:15:5d:00:00:05, 10.0.0.5 / fd00::5)
   and blue-web (00:15:5d:00:01:05): unicast to a remote VM (IPv4, IPv6, several flows, DSCP
   and ECN), to a local VM, routed to another subnet, to a VM behind a provider route, ARP and
   ND questions (known and unknown targets), a broadcast, forged sources, tagged and LLDP
   frames, no route, TTL 1 routed, the other tenant with the same CA, a nat VM, frames at and
   just over the MTU (and with --underlay-mtu 9000). Every JSON line (verdict, reason, vsid, pa,
   out, key set and order) and every output frame is checked with scapy (outer Ethernet / IPv4
   fields and checksum, GRE bits, key = VSID<<8 | FlowID, inner frame = the sent frame with the
   documented MAC / TTL fix-ups, proxy replies field by field) and with
   `tshark -o ip.check_checksum:TRUE -T json` (IPv4 checksums good, GRE flags, key and
   protocol 0x6558, nothing malformed). FlowIDs: equal within a flow, different between flows.
2. ingress on hv2 of the egress output: every encap frame to hv2 is delivered with exactly the
   inner frame (= what the VM sent, with the routed MAC / TTL changes); the broadcast reaches
   each local VM of the subnet; the frame to hv3 is not-local-pa; scapy-made forgeries (spoofed
   source CA, unknown VSID, the S bit, IPv4 protocol other than GRE) are dropped for their reason.
3. Robustness: every prefix of those frames and seeded random byte flips through both
   pipelines: exit 0, one JSON line per frame (run under ASan/UBSan in the sanitizer build).
4. The counters on stderr: one `verdict NAME N` / `drop REASON N` line per non-zero counter,
   equal to what the JSON lines say, adding up to the frames.
Prints one line per check group; exits 1 on any mismatch, 77 when scapy or tshark is missing.
"""
import collections
import json
import os
import shutil
import subprocess
import sys

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
try:
    from scapy.all import (ARP, GRE, ICMP, IPerror, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IP, IPv6,
                           TCP, UDP, Dot1Q, Ether, Raw, rdpcap)
except ImportError:
    print("scapy is not importable from %s (Debian: apt-get install python3-scapy), skipped" % sys.executable)
    sys.exit(77)

# two-tenants.policy
HV1_PA, HV2_PA, HV3_PA = "192.168.10.11", "192.168.10.12", "192.168.20.13"
HV1_MAC, HV2_MAC = "02:00:c0:a8:0a:0b", "02:00:c0:a8:0a:0c"
NEXT_HOP_MAC = "02:00:00:00:00:fe"  # hv1's provider route to 192.168.20.0/24
RED_ROUTER = "02:00:5e:00:01:01"    # red has no router-mac: the default
WEB, APP, DB, DB2, FAR, GW = ("00:15:5d:00:00:05", "00:15:5d:00:00:07", "00:15:5d:00:00:06",
                              "00:15:5d:00:00:08", "00:15:5d:00:00:09", "00:15:5d:00:00:fe")
BLUE_WEB, BLUE_DB = "00:15:5d:00:01:05", "00:15:5d:00:01:06"
BCAST = "ff:ff:ff:ff:ff:ff"

from interop_support import checker, write_pcap  # noqa: E402


def run(tool, args):
    return subprocess.run([tool] + args, capture_output=True, text=True)


def udp4(src_mac, dst_mac, src, dst, sport=1234, dport=80, ttl=64, tos=0, payload=b"hello", flags="DF"):
    return Ether(src=src_mac, dst=dst_mac) / IP(src=src, dst=dst, ttl=ttl, tos=tos, flags=flags) / \
        UDP(sport=sport, dport=dport) / Raw(payload)


def sized(n):
    """A red-web -> red-db IPv4/UDP frame (DF) of exactly n bytes."""
    base = udp4(WEB, DB, "10.0.0.5", "10.0.0.6", sport=7000, dport=7001, payload=b"")
    return udp4(WEB, DB, "10.0.0.5", "10.0.0.6", sport=7000, dport=7001, payload=b"x" * (n - len(base)))


def routed(frame, src_mac, dst_mac):
    """What the distributed router makes of `frame`: MACs replaced, TTL / hop limit - 1."""
    p = Ether(bytes(frame))
    p.src, p.dst = src_mac, dst_mac
    if IP in p:
        p[IP].ttl -= 1
        del p[IP].chksum
    else:
        p[IPv6].hlim -= 1
    return bytes(p)


def ipv4_checksum_ok(ip):
    again = IP(bytes(ip))
    want = again.chksum
    del again.chksum
    return IP(bytes(again)).chksum == want


# Each egress case: name, frame (bytes), expectation.
#   encap: vsid, pa, outer dst MAC, expected inner bytes, flow (a label: same label = same flow)
#   local / reply: expected output bytes (reply: a checker function instead)
#   flood: {"remote": set of PAs, "local": n}; drop: reason (+ vsid)
def egress_cases():
    c = []

    def add(name, frame, verdict, **kw):
        c.append(dict(name=name, frame=bytes(frame), verdict=verdict, **kw))

    f = udp4(WEB, DB, "10.0.0.5", "10.0.0.6", 1234, 80)
    add("red-web -> red-db 10.0.0.6 (UDP)", f, "encap", vsid=5001, pa=HV2_PA, outer_dst=HV2_MAC, inner=bytes(f), flow="a", ingress_to=DB)
    f2 = udp4(WEB, DB, "10.0.0.5", "10.0.0.6", 1234, 80, payload=b"again, same flow")
    add("red-web -> red-db, same flow again", f2, "encap", vsid=5001, pa=HV2_PA, outer_dst=HV2_MAC, inner=bytes(f2), flow="a", ingress_to=DB)
    f = udp4(WEB, DB, "10.0.0.5", "10.0.0.6", 40001, 40002)
    add("red-web -> red-db, another UDP flow", f, "encap", vsid=5001, pa=HV2_PA, outer_dst=HV2_MAC, inner=bytes(f), flow="b", ingress_to=DB)
    f = Ether(src=WEB, dst=DB) / IP(src="10.0.0.5", dst="10.0.0.6", tos=0xb8 | 0x02) / TCP(sport=40000, dport=443, flags="S")
    add("red-web -> red-db TCP, DSCP 46 ECT(0)", f, "encap", vsid=5001, pa=HV2_PA, outer_dst=HV2_MAC, inner=bytes(f), flow="c",
        tos=0xba, ingress_to=DB)
    # The VM may address the frame to any MAC: the switch sets the record's MAC.
    f = Ether(src=WEB, dst="00:15:5d:00:00:99") / IPv6(src="fd00::5", dst="fd00::6") / UDP(sport=1000, dport=2000) / Raw(b"v6")
    inner = Ether(bytes(f))
    inner.dst = DB
    add("red-web -> red-db fd00::6 (IPv6, wrong dst MAC fixed)", f, "encap", vsid=5001, pa=HV2_PA, outer_dst=HV2_MAC,
        inner=bytes(inner), flow="d", ingress_to=DB)
    f = udp4(WEB, APP, "10.0.0.5", "10.0.0.7")
    add("red-web -> red-app 10.0.0.7 (local)", f, "local", vsid=5001, out=bytes(f))
    f = udp4(WEB, RED_ROUTER, "10.0.0.5", "10.0.1.8", ttl=17)
    add("red-web -> red-db2 10.0.1.8 via the router", f, "encap", vsid=5002, pa=HV2_PA, outer_dst=HV2_MAC,
        inner=routed(f, RED_ROUTER, DB2), flow="e", ingress_to=DB2)
    f = udp4(WEB, FAR, "10.0.0.5", "10.0.0.9")
    add("red-web -> red-far 10.0.0.9 (provider route)", f, "encap", vsid=5001, pa=HV3_PA, outer_dst=NEXT_HOP_MAC,
        inner=bytes(f), flow="f")
    f = Ether(src=WEB, dst=BCAST) / ARP(op=1, hwsrc=WEB, psrc="10.0.0.5", pdst="10.0.0.6")
    add("ARP who-has 10.0.0.6", f, "reply", vsid=5001, arp_answer=("10.0.0.6", DB))
    f = Ether(src=WEB, dst=BCAST) / ARP(op=1, hwsrc=WEB, psrc="10.0.0.5", pdst="10.0.0.1")
    add("ARP who-has the gateway 10.0.0.1", f, "reply", vsid=5001, arp_answer=("10.0.0.1", RED_ROUTER))
    f = Ether(src=WEB, dst=BCAST) / ARP(op=1, hwsrc=WEB, psrc="10.0.0.5", pdst="10.0.0.99")
    add("ARP who-has an unknown 10.0.0.99", f, "drop", reason="unknown-target", vsid=5001)
    f = Ether(src=WEB, dst="33:33:ff:00:00:06") / IPv6(src="fd00::5", dst="ff02::1:ff00:6", hlim=255) / \
        ICMPv6ND_NS(tgt="fd00::6") / ICMPv6NDOptSrcLLAddr(lladdr=WEB)
    add("NS for fd00::6", f, "reply", vsid=5001, na_answer=("fd00::6", DB, False))
    f = Ether(src=WEB, dst="33:33:ff:00:00:01") / IPv6(src="fd00::5", dst="ff02::1:ff00:1", hlim=255) / \
        ICMPv6ND_NS(tgt="fd00::1") / ICMPv6NDOptSrcLLAddr(lladdr=WEB)
    add("NS for the gateway fd00::1", f, "reply", vsid=5001, na_answer=("fd00::1", RED_ROUTER, True))
    f = Ether(src=WEB, dst="33:33:ff:00:00:99") / IPv6(src="fd00::5", dst="ff02::1:ff00:99", hlim=255) / \
        ICMPv6ND_NS(tgt="fd00::99") / ICMPv6NDOptSrcLLAddr(lladdr=WEB)
    add("NS for an unknown fd00::99", f, "drop", reason="unknown-target", vsid=5001)
    f = udp4(WEB, BCAST, "10.0.0.5", "10.0.0.255", 40003, 40004, payload=b"broadcast")
    add("broadcast (flood)", f, "flood", vsid=5001, remote={HV2_PA, HV3_PA}, local=[APP], flow="g", ingress_bcast=True)
    f = udp4(WEB, DB, "10.0.0.7", "10.0.0.6")
    add("forged source address (red-app's CA)", f, "drop", reason="spoofed-source", vsid=5001)
    f = Ether(src=WEB, dst=BCAST) / ARP(op=1, hwsrc=WEB, psrc="10.0.0.6", pdst="10.0.0.7")
    add("forged ARP sender (red-db's CA)", f, "drop", reason="spoofed-source", vsid=5001)
    f = udp4(APP, DB, "10.0.0.5", "10.0.0.6")
    add("forged source MAC (red-app's MAC, red-web's CA)", f, "drop", reason="spoofed-source", vsid=5001)
    f = udp4(DB, DB2, "10.0.0.5", "10.0.0.6")
    add("forged source MAC (red-db's, no port on hv1)", f, "drop", reason="unknown-port")
    f = Ether(src=WEB, dst=DB) / Dot1Q(vlan=10) / IP(src="10.0.0.5", dst="10.0.0.6") / UDP() / Raw(b"t")
    add("802.1Q-tagged", f, "drop", reason="vlan-tagged", vsid=5001)
    f = Ether(src=WEB, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(bytes.fromhex("020704001122334455040301") + b"\x00\x00")
    add("LLDP", f, "drop", reason="unsupported-ethertype", vsid=5001)
    f = udp4(WEB, RED_ROUTER, "10.0.0.5", "10.9.9.9")
    add("no route (10.9.9.9): net unreachable from the router", f, "reply", reason="no-route", vsid=5001,
        icmp_error=(3, 0, "10.0.0.1"))
    f = udp4(WEB, DB, "10.0.0.5", "10.0.0.66")
    add("no record (10.0.0.66): to the gateway red-gw, routed", f, "encap", vsid=5001, pa=HV2_PA, outer_dst=HV2_MAC,
        inner=routed(f, RED_ROUTER, GW), flow="gw", ingress_to=GW)
    f = udp4(WEB, RED_ROUTER, "10.0.0.5", "10.0.1.8", ttl=1)
    add("routed with TTL 1: time exceeded from the router", f, "reply", reason="ttl-expired", vsid=5001,
        icmp_error=(11, 0, "10.0.0.1"))
    # (The FlowID hashes the inner flow only: blue's copy of red's 5-tuple would get red's FlowID.)
    f = udp4(BLUE_WEB, BLUE_DB, "10.0.0.5", "10.0.0.6", 4322, 8080)
    add("blue-web -> blue-db 10.0.0.6 (same CA as red-db)", f, "encap", vsid=6001, pa=HV2_PA, outer_dst=HV2_MAC,
        inner=bytes(f), flow="h", ingress_to=BLUE_DB)
    f = udp4(BLUE_WEB, "00:15:5d:00:01:08", "10.0.0.5", "10.0.0.8")
    add("blue-web (encap) -> blue-nat2 10.0.0.8 (nat): one end nat", f, "drop", reason="nat-mismatch", vsid=6001)
    # Outer IPv4 packet = 20 + 8 (NVGRE) + the inner frame: 1472 bytes fill an MTU of 1500.
    f = sized(1472)
    add("1472-byte frame: outer packet exactly 1500", f, "encap", vsid=5001, pa=HV2_PA, outer_dst=HV2_MAC, inner=bytes(f),
        flow="i", ingress_to=DB)
    f = sized(1473)
    # One byte more, with DF: not fragmented (wire rule 7), answered ICMP fragmentation needed.
    add("1473-byte frame: outer packet 1501 (too big, DF: answered)", f, "reply", vsid=5001, oversize=True, too_big_mtu=1458)
    f = sized(3000)
    add("3000-byte frame (too big, DF: answered)", f, "reply", vsid=5001, oversize=True, too_big_mtu=1458)
    f = Ether(src=WEB, dst=DB, type=0x0800) / Raw(b"\x45\x00\x00")
    add("IPv4 cut short", f, "drop", reason="truncated", vsid=5001)
    add("10-byte frame", b"\x00" * 10, "drop", reason="truncated")
    return c


def json_keys_ok(line, verdict):
    keys = list(line.keys())
    want = ["n", "verdict"]
    if verdict == "drop" or (verdict == "reply" and "reason" in line):
        want.append("reason")
    if "vsid" in line:
        want.append("vsid")
    if verdict in ("encap", "rewrite"):
        want.append("pa")
    want.append("out")
    return keys == want


def parse_counters(stderr):
    verdicts, drops, bad = {}, {}, []
    for l in stderr.splitlines():
        parts = l.split(" ")
        if len(parts) == 3 and parts[0] in ("verdict", "drop") and parts[2].isdigit():
            (verdicts if parts[0] == "verdict" else drops)[parts[1]] = int(parts[2])
        elif parts[0] in ("port", "vsid") and " in " in l and " out " in l:
            pass  # per-port and per-VSID traffic: dhcp_cli.py checks those
        else:
            bad.append(l)
    return verdicts, drops, bad


def check_counters(check, group, lines, stderr):
    verdicts, drops, bad = parse_counters(stderr)
    check(group, not bad, "lines that are not counters: %r" % bad)
    want_v = collections.Counter(l["verdict"] for l in lines)
    # A reply that answers a packet which went no further carries (and counts) its reason.
    want_d = collections.Counter(l["reason"] for l in lines if l["verdict"] == "drop" or "reason" in l)
    check(group, verdicts == dict(want_v), "verdict counters %r, JSON lines say %r" % (verdicts, dict(want_v)))
    check(group, drops == dict(want_d), "drop counters %r, JSON lines say %r" % (drops, dict(want_d)))
    check(group, sum(verdicts.values()) == len(lines), "verdicts add up to %d, %d frames" % (sum(verdicts.values()), len(lines)))
    answered = sum(1 for l in lines if l["verdict"] == "reply" and "reason" in l)
    check(group, sum(drops.values()) == verdicts.get("drop", 0) + answered,
          "drop reasons add up to %d, verdict drop %d + %d answered" % (sum(drops.values()), verdicts.get("drop", 0), answered))
    check(group, all(v > 0 for v in list(verdicts.values()) + list(drops.values())), "a zero counter printed")


def tshark_json(tshark, path):
    r = subprocess.run([tshark, "-r", path, "-T", "json", "--no-duplicate-keys", "-o", "ip.check_checksum:TRUE",
                        "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), ""


def as_list(x):
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def check_encap_frame(check, tag, raw, vsid, pa, outer_src, outer_dst_mac, inner, tos=0):
    """scapy's view of one NVGRE frame written by egress. Returns its FlowID or None."""
    g = "egress encap frames (scapy): outer Ethernet / IPv4, GRE, key, inner frame"
    p = Ether(raw)
    ok = check(g, IP in p and GRE in p, "%s: not Ether/IP/GRE: %s" % (tag, p.summary()))
    if not ok:
        return None
    ip, gre = p[IP], p[GRE]
    check(g, p.src == HV1_MAC and p.dst == outer_dst_mac and p.type == 0x0800,
          "%s: outer Ethernet %s > %s type 0x%04x" % (tag, p.src, p.dst, p.type))
    check(g, ip.src == outer_src and ip.dst == pa, "%s: outer %s > %s" % (tag, ip.src, ip.dst))
    check(g, ip.version == 4 and ip.ihl == 5 and ip.proto == 47 and ip.ttl == 64 and ip.flags.DF and not ip.flags.MF
          and ip.frag == 0, "%s: outer IPv4 %r" % (tag, ip.fields))
    check(g, ip.tos == tos, "%s: outer TOS 0x%02x, expected 0x%02x (DSCP and ECN copied)" % (tag, ip.tos, tos))
    check(g, ip.len == len(raw) - 14, "%s: outer total length %d for a %d-byte frame" % (tag, ip.len, len(raw)))
    check(g, ipv4_checksum_ok(ip), "%s: outer IPv4 checksum wrong" % tag)
    check(g, gre.chksum_present == 0 and gre.routing_present == 0 and gre.key_present == 1 and gre.seqnum_present == 0
          and gre.strict_route_source == 0 and gre.recursion_control == 0 and gre.flags == 0 and gre.version == 0,
          "%s: GRE bits %r" % (tag, gre.fields))
    check(g, gre.proto == 0x6558, "%s: GRE protocol 0x%04x" % (tag, gre.proto))
    key = gre.key if gre.key is not None else -1
    check(g, key >> 8 == vsid, "%s: key 0x%08x, VSID %d expected" % (tag, key, vsid))
    got_inner = raw[14 + 20 + 8:]
    check(g, got_inner == inner, "%s: inner frame differs from the expected %d bytes (got %d): %s vs %s"
          % (tag, len(inner), len(got_inner), got_inner[:40].hex(), inner[:40].hex()))
    return key & 0xFF


def check_tshark_encap(check, tag, pkt, vsid, flow, inner_v4):
    g = "egress encap frames (tshark): IPv4 checksums good, GRE 0x2000, key, 0x6558"
    L = pkt["_source"]["layers"]
    gre = L.get("gre")
    ok = check(g, isinstance(gre, dict), "%s: no single GRE layer" % tag)
    if ok:
        check(g, gre.get("gre.flags_and_version") == "0x2000", "%s: GRE flags %s" % (tag, gre.get("gre.flags_and_version")))
        check(g, gre.get("gre.proto") == "0x6558", "%s: GRE protocol %s" % (tag, gre.get("gre.proto")))
        key = int(gre.get("gre.key", "-1"), 16)
        check(g, key == (vsid << 8 | flow), "%s: key 0x%08x, expected 0x%08x" % (tag, key, vsid << 8 | flow))
    v4 = as_list(L.get("ip"))
    check(g, len(v4) == (2 if inner_v4 else 1), "%s: %d IPv4 layers" % (tag, len(v4)))
    for i, ip in enumerate(v4):
        check(g, ip.get("ip.checksum.status") == "1", "%s: IPv4 header %d checksum status %s" % (tag, i, ip.get("ip.checksum.status")))
    check(g, len(as_list(L.get("eth"))) == 2, "%s: %d Ethernet layers" % (tag, len(as_list(L.get("eth")))))
    check(g, "_ws.malformed" not in L, "%s: tshark says malformed" % tag)


def egress_part(tool, policy, work, tshark, check):
    cases = egress_cases()
    inp, outp = os.path.join(work, "egress-in.pcap"), os.path.join(work, "egress-out.pcap")
    write_pcap(inp, [c["frame"] for c in cases])
    r = run(tool, ["egress", "--policy", policy, "--host", "hv1", inp, outp])
    g = "egress: exit 0, one JSON line per frame, counters on stderr"
    check(g, r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr.strip()))
    lines = []
    for l in r.stdout.splitlines():
        try:
            lines.append(json.loads(l))
        except ValueError:
            check(g, False, "not JSON: %r" % l)
    check(g, len(lines) == len(cases), "%d lines for %d frames" % (len(lines), len(cases)))
    if r.returncode != 0 or len(lines) != len(cases):
        return None
    out = [bytes(p) for p in rdpcap(outp)] if os.path.getsize(outp) > 24 else []
    check_counters(check, "egress: counters on stderr = the JSON lines, adding up to the frames", lines, r.stderr)

    g = "egress JSON lines: n, verdict, reason, vsid, pa, out (docs/nvgre-pcap.md keys and order)"
    used = []
    for i, (c, l) in enumerate(zip(cases, lines)):
        tag = "frame %d (%s)" % (i + 1, c["name"])
        check(g, l.get("n") == i + 1, "%s: n %r" % (tag, l.get("n")))
        check(g, l.get("verdict") == c["verdict"], "%s: verdict %r, expected %r (line %s)" % (tag, l.get("verdict"), c["verdict"], json.dumps(l)))
        check(g, json_keys_ok(l, l.get("verdict")), "%s: keys %s" % (tag, list(l.keys())))
        if c["verdict"] == "drop" or "reason" in c:
            check(g, l.get("reason") == c["reason"], "%s: reason %r, expected %r" % (tag, l.get("reason"), c["reason"]))
        check(g, l.get("vsid") == c.get("vsid"), "%s: vsid %r, expected %r" % (tag, l.get("vsid"), c.get("vsid")))
        if c["verdict"] in ("encap", "rewrite"):
            check(g, l.get("pa") == c["pa"], "%s: pa %r, expected %r" % (tag, l.get("pa"), c["pa"]))
        want_n = {"drop": 0, "flood": len(c.get("remote", ())) + len(c.get("local", ()))}.get(c["verdict"], 1)
        o = l.get("out", [])
        check(g, isinstance(o, list) and len(o) == want_n, "%s: out %r, expected %d frames" % (tag, o, want_n))
        used += o if isinstance(o, list) else []
    check(g, used == list(range(1, len(out) + 1)), "out indices %r do not number OUT.pcap's %d frames in order" % (used, len(out)))
    if used != list(range(1, len(out) + 1)):
        return None

    packets, err = tshark_json(tshark, outp)
    check("egress output dissected by tshark", packets is not None and len(packets) == len(out),
          "tshark: %s (%s frames)" % (err, None if packets is None else len(packets)))
    if packets is None or len(packets) != len(out):
        packets = [None] * len(out)

    flows = {}   # flow label -> FlowIDs seen
    to_hv2 = []  # (raw outer frame, case, inner) for ingress
    gr = "egress in-place results (scapy): local unchanged, ARP / NA replies"
    for c, l in zip(cases, lines):
        tag = "frame %d (%s)" % (l["n"], c["name"])
        idx = [k - 1 for k in l["out"]]
        if c["verdict"] == "encap" and l["verdict"] == "encap" and idx:
            raw = out[idx[0]]
            src = HV1_PA
            fl = check_encap_frame(check, tag, raw, c["vsid"], c["pa"], src, c["outer_dst"], c["inner"], c.get("tos", 0))
            if fl is not None:
                flows.setdefault(c["flow"], []).append(fl)
                if packets[idx[0]] is not None:
                    check_tshark_encap(check, tag, packets[idx[0]], c["vsid"], fl, IP in Ether(c["inner"]))
            if c["pa"] == HV2_PA:
                to_hv2.append((raw, c, c["inner"]))
            else:
                to_hv2.append((raw, c, None))  # arrives at hv2 by mistake: not-local-pa
        elif c["verdict"] == "local" and idx:
            check(gr, out[idx[0]] == c["out"], "%s: local output differs from the sent frame" % tag)
        elif c["verdict"] == "reply" and idx:
            p = Ether(out[idx[0]])
            if "too_big_mtu" in c:
                ok = check(gr, ICMP in p, "%s: no ICMP in the reply: %s" % (tag, p.summary()))
                if ok:
                    check(gr, p.dst == WEB and p.src == RED_ROUTER and p[IP].src == "10.0.0.1" and p[IP].dst == "10.0.0.5",
                          "%s: too-big answer %s > %s, %s > %s" % (tag, p.src, p.dst, p[IP].src, p[IP].dst))
                    check(gr, p[ICMP].type == 3 and p[ICMP].code == 4 and p[ICMP].nexthopmtu == c["too_big_mtu"],
                          "%s: ICMP type %d code %d mtu %d" % (tag, p[ICMP].type, p[ICMP].code, p[ICMP].nexthopmtu))
            elif "icmp_error" in c:
                typ, code, src = c["icmp_error"]
                sent = Ether(c["frame"])
                ok = check(gr, ICMP in p and IPerror in p, "%s: no ICMP error in the reply: %s" % (tag, p.summary()))
                if ok:
                    check(gr, p.dst == WEB and p.src == RED_ROUTER and p[IP].src == src and p[IP].dst == "10.0.0.5",
                          "%s: router answer %s > %s, %s > %s" % (tag, p.src, p.dst, p[IP].src, p[IP].dst))
                    check(gr, p[ICMP].type == typ and p[ICMP].code == code, "%s: ICMP type %d code %d" % (tag, p[ICMP].type, p[ICMP].code))
                    check(gr, ipv4_checksum_ok(p[IP]), "%s: IPv4 header checksum" % tag)
                    again = Ether(out[idx[0]])
                    want = again[ICMP].chksum
                    del again[ICMP].chksum
                    check(gr, Ether(bytes(again))[ICMP].chksum == want, "%s: ICMP checksum wrong" % tag)
                    check(gr, bytes(p[IPerror]) == bytes(sent[IP]), "%s: the quote is not the packet as sent" % tag)
            elif "arp_answer" in c:
                ip, mac = c["arp_answer"]
                ok = check(gr, ARP in p, "%s: no ARP in the reply: %s" % (tag, p.summary()))
                if ok:
                    a = p[ARP]
                    check(gr, p.dst == WEB and p.src == mac and p.type == 0x0806, "%s: reply Ethernet %s > %s" % (tag, p.src, p.dst))
                    check(gr, a.op == 2 and a.hwsrc == mac and a.psrc == ip and a.hwdst == WEB and a.pdst == "10.0.0.5"
                          and a.hwtype == 1 and a.ptype == 0x0800 and a.hwlen == 6 and a.plen == 4,
                          "%s: ARP reply %r" % (tag, a.fields))
            else:
                tgt, mac, router = c["na_answer"]
                ok = check(gr, ICMPv6ND_NA in p, "%s: no NA in the reply: %s" % (tag, p.summary()))
                if ok:
                    na = p[ICMPv6ND_NA]
                    check(gr, p.dst == WEB and p.src == mac, "%s: NA Ethernet %s > %s" % (tag, p.src, p.dst))
                    check(gr, p[IPv6].src == tgt and p[IPv6].dst == "fd00::5" and p[IPv6].hlim == 255,
                          "%s: NA IPv6 %s > %s hlim %d" % (tag, p[IPv6].src, p[IPv6].dst, p[IPv6].hlim))
                    check(gr, na.tgt == tgt and na.R == int(router) and na.S == 1 and na.O == 1,
                          "%s: NA target %s R%d S%d O%d" % (tag, na.tgt, na.R, na.S, na.O))
                    check(gr, ICMPv6NDOptDstLLAddr in p and p[ICMPv6NDOptDstLLAddr].lladdr == mac,
                          "%s: NA target link-layer option missing or wrong" % tag)
                    again = Ether(out[idx[0]])
                    want = again[ICMPv6ND_NA].cksum
                    del again[ICMPv6ND_NA].cksum
                    check(gr, Ether(bytes(again))[ICMPv6ND_NA].cksum == want, "%s: ICMPv6 checksum wrong" % tag)
            if packets[idx[0]] is not None:
                L = packets[idx[0]]["_source"]["layers"]
                check(gr, "_ws.malformed" not in L and "_ws.expert" not in L, "%s: tshark reports a problem" % tag)
        elif c["verdict"] == "flood" and len(idx) == len(c["remote"]) + len(c["local"]):
            gf = "egress flood: one encapsulated copy per remote PA, one copy per other local VM"
            pas, locals_ = set(), 0
            for k in idx:
                p = Ether(out[k])
                if GRE in p:
                    pa = p[IP].dst
                    pas.add(pa)
                    fl = check_encap_frame(check, tag + " copy to " + pa, out[k], c["vsid"], pa, HV1_PA,
                                           HV2_MAC if pa == HV2_PA else NEXT_HOP_MAC, c["frame"])
                    if fl is not None:
                        flows.setdefault(c["flow"], []).append(fl)
                        if packets[k] is not None:
                            check_tshark_encap(check, tag, packets[k], c["vsid"], fl, True)
                    if pa == HV2_PA:
                        to_hv2.append((out[k], c, c["frame"]))
                else:
                    locals_ += 1
                    check(gf, out[k] == c["frame"], "%s: local copy differs from the sent frame" % tag)
            check(gf, pas == c["remote"], "%s: copies to %s, expected %s" % (tag, sorted(pas), sorted(c["remote"])))
            check(gf, locals_ == len(c["local"]), "%s: %d local copies, expected %d" % (tag, locals_, len(c["local"])))

    gfl = "egress FlowIDs: equal within a flow, different between flows"
    for label, ids in flows.items():
        check(gfl, len(set(ids)) == 1, "flow %s has FlowIDs %s" % (label, ids))
    # A FlowID has 8 bits: two flows may share one by chance (1 in 256). The labelled flows
    # were chosen apart; a change of the hash may make two collide, hence the spread check below.
    firsts = {label: ids[0] for label, ids in flows.items()}
    for a in firsts:
        for b in firsts:
            if a < b:
                check(gfl, firsts[a] != firsts[b], "flows %s and %s share FlowID %d (chance: see the spread check)"
                      % (a, b, firsts[a]))
    spread = [bytes(udp4(WEB, DB, "10.0.0.5", "10.0.0.6", sport, dport)) for sport in range(20000, 20064)
              for dport in (80, 443, 8080, 9000)]
    inp3, outp3 = os.path.join(work, "egress-flows-in.pcap"), os.path.join(work, "egress-flows-out.pcap")
    write_pcap(inp3, spread)
    r = run(tool, ["egress", "--policy", policy, "--host", "hv1", inp3, outp3])
    ids = [p[GRE].key & 0xFF for p in rdpcap(outp3) if GRE in p] if r.returncode == 0 else []
    check(gfl, len(ids) == len(spread), "%d of %d spread flows encapsulated" % (len(ids), len(spread)))
    # 256 random bytes take ~162 distinct values; a weak hash (ports ignored, ...) takes far fewer.
    check(gfl, len(set(ids)) >= 128, "256 flows got only %d distinct FlowIDs" % len(set(ids)))
    check(gfl, 0 not in ids, "FlowID 0 for a flow with a 5-tuple")

    # --underlay-mtu 9000: the oversize frames pass; options in another order; --gso accepted.
    big = [c for c in cases if c.get("oversize")]
    inp2, outp2 = os.path.join(work, "egress-big-in.pcap"), os.path.join(work, "egress-big-out.pcap")
    write_pcap(inp2, [c["frame"] for c in big])
    r = run(tool, ["egress", "--underlay-mtu", "9000", "--gso", "--host", "hv1", "--policy", policy, inp2, outp2])
    g = "egress --underlay-mtu 9000: the oversize frames are encapsulated"
    check(g, r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr.strip()))
    big_lines = [json.loads(l) for l in r.stdout.splitlines()] if r.returncode == 0 else []
    check(g, len(big_lines) == len(big), "%d lines for %d frames" % (len(big_lines), len(big)))
    big_out = [bytes(p) for p in rdpcap(outp2)] if r.returncode == 0 and os.path.getsize(outp2) > 24 else []
    for i, (c, l) in enumerate(zip(big, big_lines)):
        check(g, l == {"n": i + 1, "verdict": "encap", "vsid": 5001, "pa": HV2_PA, "out": [i + 1]},
              "%s: %s" % (c["name"], json.dumps(l)))
        if i < len(big_out):
            check_encap_frame(check, c["name"] + " (mtu 9000)", big_out[i], 5001, HV2_PA, HV1_PA, HV2_MAC, c["frame"])
    if r.returncode == 0:
        check_counters(check, g, big_lines, r.stderr)
    # The other spelling of the options; an MTU one byte short of the 1473-byte frame's 1501.
    r = run(tool, ["egress", "--policy=" + policy, "--host=hv1", "--underlay-mtu=1500", inp2, outp2])
    g = "egress --underlay-mtu=1500 (option=value spelling): both still answered too big"
    check(g, r.returncode == 0 and [json.loads(l).get("verdict") for l in r.stdout.splitlines()] == ["reply"] * len(big),
          "exit %d: %s" % (r.returncode, r.stdout.strip()))
    return to_hv2


def forged(src_pa, dst_pa, vsid, inner, seq=False, proto=47):
    gre = GRE(key_present=1, seqnum_present=1 if seq else 0, proto=0x6558, key=vsid << 8 | 7,
              sequence_number=1 if seq else None)
    p = Ether(src="02:00:c0:a8:14:0d", dst=HV2_MAC) / IP(src=src_pa, dst=dst_pa, flags="DF", proto=proto) / gre / Ether(inner)
    return bytes(p)


def ingress_part(tool, policy, work, tshark, check, to_hv2):
    cases = []  # (name, frame, verdict, reason/None, vsid, expected delivered frames)
    for raw, c, inner in to_hv2:
        if inner is None:
            cases.append(("egress output for %s (to hv3)" % c["name"], raw, "drop", "not-local-pa", None, []))
        elif c.get("ingress_bcast"):
            # Delivered to each VM of 5001 on hv2: red-db and red-gw.
            cases.append(("broadcast copy", raw, "deliver", None, c["vsid"], [inner, inner]))
        else:
            cases.append(("egress output for %s" % c["name"], raw, "deliver", None, c["vsid"], [inner]))
    web_to_db = bytes(udp4(WEB, DB, "10.0.0.5", "10.0.0.6"))
    db_to_gw = bytes(udp4(DB, GW, "10.0.0.6", "10.0.0.254"))
    cases.append(("forged: from hv3's PA claiming red-web's CA", forged(HV3_PA, HV2_PA, 5001, web_to_db), "drop",
                  "spoofed-source", 5001, []))
    cases.append(("forged: from hv3's PA claiming red-db's CA", forged(HV3_PA, HV2_PA, 5001, db_to_gw), "drop",
                  "spoofed-source", 5001, []))
    cases.append(("forged: red-web's frame in VSID 7777", forged(HV1_PA, HV2_PA, 7777, web_to_db), "drop",
                  "unknown-vsid", 7777, []))
    # 10.0.0.5 in blue is blue-web, also on hv1: the source checks out, red-db's MAC does not.
    cases.append(("red-web's frame in blue's VSID 6001", forged(HV1_PA, HV2_PA, 6001, web_to_db), "drop",
                  "wrong-destination-mac", 6001, []))
    cases.append(("GRE with the S bit", forged(HV1_PA, HV2_PA, 5001, web_to_db, seq=True), "drop", "bad-gre-flags", None, []))
    cases.append(("NVGRE to hv1's PA", forged(HV2_PA, HV1_PA, 5001, web_to_db), "drop", "not-local-pa", None, []))
    cases.append(("plain UDP to hv2", bytes(Ether(dst=HV2_MAC) / IP(src=HV1_PA, dst=HV2_PA) / UDP() / Raw(b"x")), "drop",
                  "not-nvgre", None, []))
    cases.append(("valid NVGRE from hv1 (scapy-made)", forged(HV1_PA, HV2_PA, 5001, web_to_db), "deliver", None, 5001,
                  [web_to_db]))

    inp, outp = os.path.join(work, "ingress-in.pcap"), os.path.join(work, "ingress-out.pcap")
    write_pcap(inp, [c[1] for c in cases])
    frames = [c[1] for c in cases if len(c[1]) < 1600]
    r = run(tool, ["ingress", "--host", "hv2", "--policy", policy, inp, outp])
    g = "ingress on hv2: exit 0, one JSON line per frame"
    check(g, r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr.strip()))
    lines = [json.loads(l) for l in r.stdout.splitlines()] if r.returncode == 0 else []
    check(g, len(lines) == len(cases), "%d lines for %d frames" % (len(lines), len(cases)))
    if len(lines) != len(cases):
        return frames
    out = [bytes(p) for p in rdpcap(outp)] if os.path.getsize(outp) > 24 else []
    check_counters(check, "ingress: counters on stderr = the JSON lines, adding up to the frames", lines, r.stderr)
    g = "ingress JSON lines and delivered frames (= what the VM sent, routed: MAC/TTL)"
    used = []
    for i, ((name, _, verdict, reason, vsid, delivered), l) in enumerate(zip(cases, lines)):
        tag = "frame %d (%s)" % (i + 1, name)
        want = {"n": i + 1, "verdict": verdict}
        if reason:
            want["reason"] = reason
        if vsid:
            want["vsid"] = vsid
        want["out"] = l.get("out") if len(l.get("out", [])) == len(delivered) else "%d frames" % len(delivered)
        check(g, l == want and list(l.keys()) == list(want.keys()), "%s: %s, expected %s" % (tag, json.dumps(l), json.dumps(want)))
        for k, frame in zip(l.get("out", []), delivered):
            ok = check(g, 1 <= k <= len(out), "%s: out index %d of %d" % (tag, k, len(out)))
            if ok:
                check(g, out[k - 1] == frame, "%s: delivered %s, expected %s" % (tag, out[k - 1][:48].hex(), frame[:48].hex()))
        used += l.get("out", [])
    check(g, used == list(range(1, len(out) + 1)), "out indices %r do not number OUT.pcap's %d frames" % (used, len(out)))
    return frames


def robustness_part(tool, policy, work, check, egress_frames, ingress_frames):
    """Every prefix of every frame, and seeded random byte flips, through both pipelines:
    exit 0, one JSON line per frame, counters that add up (under ASan/UBSan in the sanitizer
    build: no out-of-bounds read or write)."""
    import random
    rnd = random.Random(7637)

    def variants(frames):
        out = []
        for f in frames:
            out += [f[:k] for k in range(len(f)) if k <= 120 or k % 97 == 0]
            for _ in range(20):
                b = bytearray(f)
                for _ in range(rnd.randint(1, 4)):
                    b[rnd.randrange(len(b))] = rnd.randrange(256)
                out.append(bytes(b))
        return out

    for command, host, frames in (("egress", "hv1", egress_frames), ("ingress", "hv2", ingress_frames)):
        g = "%s on every prefix and random corruptions of its frames: no crash, one line each" % command
        mangled = variants(frames)
        inp, outp = os.path.join(work, command + "-mangled-in.pcap"), os.path.join(work, command + "-mangled-out.pcap")
        write_pcap(inp, mangled)
        r = run(tool, [command, "--policy", policy, "--host", host, inp, outp])
        check(g, r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
        lines = []
        for l in r.stdout.splitlines():
            try:
                lines.append(json.loads(l))
            except ValueError:
                check(g, False, "not JSON: %r" % l)
        check(g, len(lines) == len(mangled), "%d lines for %d frames" % (len(lines), len(mangled)))
        if r.returncode == 0:
            check_counters(check, g, lines, r.stderr)
            used = [k for l in lines for k in l.get("out", [])]
            check(g, used == list(range(1, len(used) + 1)), "out indices not 1, 2, 3, ...")
            check(g, all(l["out"] == [] for l in lines if l["verdict"] == "drop"), "a drop with output frames")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    tool, policy, work = sys.argv[1:]
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not found, skipped")
        return 77
    os.makedirs(work, exist_ok=True)
    check = checker()
    to_hv2 = egress_part(tool, policy, work, tshark, check)
    if to_hv2 is not None:
        ingress_frames = ingress_part(tool, policy, work, tshark, check, to_hv2)
        robustness_part(tool, policy, work, check, [c["frame"] for c in egress_cases() if len(c["frame"]) < 1600],
                        ingress_frames)
    return 1 if check.report("pipeline_cli") else 0


if __name__ == "__main__":
    sys.exit(main())
