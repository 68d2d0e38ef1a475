#!/usr/bin/python3
"""Gateways, next hops and the distributed router's own answers through `nvgre-pcap egress` and
`ingress` (docs/hnv-rules.md: egress rules 1, 4, 5 and 8, ingress rules 2, 3 and 5), every frame
crafted and every output re-dissected by scapy (ICMP checksums, quotes, MACs, TTLs).

  gateway_cli.py NVGRE_PCAP POLICY WORK_DIR      (POLICY: examples/policies/gateways.policy)

Egress on hv1 (red-web, blue-web, red-lab), then the encapsulated frames through ingress on
the host of their PA (hv2 or hv3); egress on hv2 from the gateway red-gw1, then ingress on hv1.
Exits 1 on any mismatch, 77 when scapy is missing.
"""
import json
import os
import subprocess
import sys

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
try:
    from scapy.all import (GRE, ICMP, IP, IPerror, IPv6, IPerror6, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6TimeExceeded,
                           UDP, Ether, Raw, rdpcap)
except ImportError:
    print("scapy is not importable from %s (Debian: apt-get install python3-scapy), skipped" % sys.executable)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_support import checker, write_pcap  # noqa: E402

HV1_PA, HV2_PA, HV3_PA = "192.168.10.11", "192.168.10.12", "192.168.10.13"
HOST_OF_PA = {HV1_PA: "hv1", HV2_PA: "hv2", HV3_PA: "hv3"}
WEB, FW, GW1, GW2, LAB = ("00:15:5d:00:00:05", "00:15:5d:00:00:20", "00:15:5d:00:00:f1", "00:15:5d:00:00:f2",
                          "00:15:5d:00:03:05")
BLUE_WEB = "00:15:5d:00:01:05"
RED_ROUTER, BLUE_ROUTER = "02:00:5e:00:01:01", "02:00:5e:00:02:02"

tool, policy, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
check = checker()


def run(direction, host, name, frames):
    """Runs nvgre-pcap DIRECTION on HOST; returns (JSON lines, output frames)."""
    inp, out = os.path.join(work, name + ".in.pcap"), os.path.join(work, name + ".out.pcap")
    write_pcap(inp, frames)
    r = subprocess.run([tool, direction, "--policy", policy, "--host", host, inp, out], capture_output=True, text=True)
    if not check("nvgre-pcap %s runs (exit 0, a JSON line per frame)" % direction, r.returncode == 0,
                 "%s %s: exit %d: %s" % (direction, name, r.returncode, r.stderr.strip())):
        return [None] * len(frames), []
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    check("nvgre-pcap %s runs (exit 0, a JSON line per frame)" % direction, len(lines) == len(frames),
          "%s %s: %d lines for %d frames" % (direction, name, len(lines), len(frames)))
    outs = [bytes(p) for p in rdpcap(out)] if os.path.getsize(out) > 24 else []
    return lines, outs


def udp(src_mac, dst_mac, src, dst, sport=4000, ttl=64, payload=b"gateway test"):
    l3 = IPv6(src=src, dst=dst, hlim=ttl) if ":" in src else IP(src=src, dst=dst, ttl=ttl, flags="DF")
    return bytes(Ether(src=src_mac, dst=dst_mac) / l3 / UDP(sport=sport, dport=53) / Raw(payload))


def echo(src_mac, dst_mac, src, dst, ident=0x77, seq=5, ttl=64):
    if ":" in src:
        return bytes(Ether(src=src_mac, dst=dst_mac) / IPv6(src=src, dst=dst, hlim=ttl) /
                     ICMPv6EchoRequest(id=ident, seq=seq, data=b"abcdefgh" * 4))
    return bytes(Ether(src=src_mac, dst=dst_mac) / IP(src=src, dst=dst, ttl=ttl) / ICMP(type=8, id=ident, seq=seq) /
                 Raw(b"abcdefgh" * 4))


def checksums_ok(p):
    """IPv4 header, ICMP and ICMPv6 checksums of `p` as scapy recomputes them."""
    again = p.__class__(bytes(p))
    layers = []
    if IP in again:
        layers.append((IP, again[IP].chksum))
        del again[IP].chksum
    if ICMP in again:
        layers.append((ICMP, again[ICMP].chksum))
        del again[ICMP].chksum
    for l in again.layers():
        if l.__name__.startswith("ICMPv6") and hasattr(again[l], "cksum"):
            layers.append((l, again[l].cksum))
            del again[l].cksum
            break
    fresh = again.__class__(bytes(again))
    return all(fresh[l].chksum == v if l in (IP, ICMP) else fresh[l].cksum == v for l, v in layers)


def inner_of(raw):
    """The inner Ethernet frame of an NVGRE packet, its VSID and outer addresses."""
    p = Ether(raw)
    g = p[GRE]
    return Ether(bytes(g.payload)), g.key >> 8, p[IP].src, p[IP].dst


# ---- egress on hv1 -------------------------------------------------------------------------
cases = []  # (name, frame, expected verdict, extra)
for i in range(1, 25):
    cases.append(("red-web -> 203.0.113.%d (default route, a gateway)" % i,
                  udp(WEB, RED_ROUTER, "10.0.0.5", "203.0.113.%d" % i, ttl=30), "encap", {"gateway": True}))
cases.append(("red-web -> 203.0.113.1 again (same flow, same gateway)", udp(WEB, RED_ROUTER, "10.0.0.5", "203.0.113.1", ttl=30),
              "encap", {"gateway": True, "same_as": 0}))
cases.append(("red-web -> 2001:db8::10 (IPv6 default route: red-gw1 only)", udp(WEB, RED_ROUTER, "fd00::5", "2001:db8::10", ttl=30),
              "encap", {"to": (HV2_PA, GW1)}))
cases.append(("red-web -> 172.16.4.4 (next hop red-fw)", udp(WEB, RED_ROUTER, "10.0.0.5", "172.16.4.4", ttl=30), "encap",
              {"to": (HV2_PA, FW)}))
cases.append(("red-web -> 172.17.0.9 (next hop 10.0.0.30 has no VM: a gateway)",
              udp(WEB, RED_ROUTER, "10.0.0.5", "172.17.0.9", ttl=30), "encap", {"gateway": True}))
cases.append(("red-web pings 10.0.0.1", echo(WEB, RED_ROUTER, "10.0.0.5", "10.0.0.1"), "reply", {"echo": "10.0.0.1"}))
cases.append(("red-web pings fd00::1", echo(WEB, RED_ROUTER, "fd00::5", "fd00::1"), "reply", {"echo": "fd00::1"}))
cases.append(("red-web sends UDP to 10.0.0.1", udp(WEB, RED_ROUTER, "10.0.0.5", "10.0.0.1"), "drop", {"reason": "to-router"}))
cases.append(("red-web TTL 1 -> 203.0.113.10", udp(WEB, RED_ROUTER, "10.0.0.5", "203.0.113.10", ttl=1), "reply",
              {"reason": "ttl-expired", "error": (11, 0, "10.0.0.1", RED_ROUTER)}))
cases.append(("red-web ping TTL 1 -> 203.0.113.10", echo(WEB, RED_ROUTER, "10.0.0.5", "203.0.113.10", ttl=1), "reply",
              {"reason": "ttl-expired", "error": (11, 0, "10.0.0.1", RED_ROUTER)}))
cases.append(("red-web hop limit 1 -> 2001:db8::1", udp(WEB, RED_ROUTER, "fd00::5", "2001:db8::1", ttl=1), "reply",
              {"reason": "ttl-expired", "error6": (3, 0, "fd00::1")}))
cases.append(("blue-web -> 8.8.8.8 (blue has no default route)", udp(BLUE_WEB, BLUE_ROUTER, "10.0.0.5", "8.8.8.8"), "reply",
              {"reason": "no-route", "error": (3, 0, "10.0.0.1", BLUE_ROUTER)}))
cases.append(("blue-web -> 10.0.0.77 (no record, no gateway)", udp(BLUE_WEB, BLUE_ROUTER, "10.0.0.5", "10.0.0.77"), "reply",
              {"reason": "no-record", "error": (3, 1, "10.0.0.1", BLUE_ROUTER)}))
unreachable = bytes(Ether(src=BLUE_WEB, dst=BLUE_ROUTER) / IP(src="10.0.0.5", dst="8.8.8.8") / ICMP(type=3, code=3) /
                    IPerror(src="8.8.8.8", dst="10.0.0.5") / UDP(sport=53, dport=4000))
cases.append(("blue-web sends an ICMP error to 8.8.8.8 (never answered)", unreachable, "drop", {"reason": "no-route"}))
fragment = bytes(Ether(src=BLUE_WEB, dst=BLUE_ROUTER) / IP(src="10.0.0.5", dst="8.8.8.8", frag=100, proto=17) / Raw(b"x" * 40))
cases.append(("blue-web non-first fragment to 8.8.8.8 (never answered)", fragment, "drop", {"reason": "no-route"}))
cases.append(("red-lab -> 10.0.3.77 (subnet without a gateway address: no answer)",
              udp(LAB, RED_ROUTER, "10.0.3.5", "10.0.3.77"), "drop", {"reason": "no-record"}))
cases.append(("red-web -> red-db 10.0.0.6 (switched)", udp(WEB, RED_ROUTER, "10.0.0.5", "10.0.0.6"), "encap",
              {"to": (HV2_PA, "00:15:5d:00:00:06"), "switched": True}))

lines, outs = run("egress", "hv1", "egress-hv1", [c[1] for c in cases])
g = "egress hv1: verdicts and reasons"
to_ingress = {}  # host -> [(case index, frame, expected delivered MAC, expected source MAC)]
first_pa = {}
for i, ((name, frame, verdict, extra), l) in enumerate(zip(cases, lines)):
    if l is None:
        continue
    tag = "%d (%s)" % (i + 1, name)
    check(g, l["verdict"] == verdict, "%s: verdict %s, expected %s (%s)" % (tag, l["verdict"], verdict, l))
    check(g, l.get("reason") == extra.get("reason"), "%s: reason %r, expected %r" % (tag, l.get("reason"), extra.get("reason")))
    if l["verdict"] != verdict or len(l["out"]) != (0 if verdict == "drop" else 1):
        check(g, False, "%s: out %r" % (tag, l["out"]))
        continue
    if verdict == "drop":
        continue
    out = outs[l["out"][0] - 1]
    sent = Ether(frame)
    if verdict == "encap":
        ge = "egress hv1: encapsulated toward the chosen record (routed: router MAC, TTL - 1)"
        inner, vsid, osrc, odst = inner_of(out)
        check(ge, vsid == 5001 and osrc == HV1_PA, "%s: VSID %d, outer source %s" % (tag, vsid, osrc))
        l3 = IPv6 if IPv6 in sent else IP
        ttl = (lambda p: p[IPv6].hlim) if l3 is IPv6 else (lambda p: p[IP].ttl)
        if extra.get("switched"):
            check(ge, inner.src == WEB and ttl(inner) == ttl(sent), "%s: switched frame changed: %s" % (tag, inner.summary()))
        else:
            check(ge, inner.src == RED_ROUTER and ttl(inner) == ttl(sent) - 1,
                  "%s: routed frame: src %s ttl %d (sent %d)" % (tag, inner.src, ttl(inner), ttl(sent)))
        check(ge, inner[l3].dst == sent[l3].dst, "%s: inner destination changed" % tag)
        if l3 is IP:
            check(ge, checksums_ok(inner), "%s: inner IPv4 checksum" % tag)
        if "to" in extra:
            check(ge, (odst, inner.dst) == extra["to"], "%s: to %s %s, expected %s" % (tag, odst, inner.dst, extra["to"]))
        if extra.get("gateway"):
            ok = (odst, inner.dst) in ((HV2_PA, GW1), (HV3_PA, GW2))
            check(ge, ok, "%s: not a gateway: %s %s" % (tag, odst, inner.dst))
            first_pa.setdefault(i, odst)
        if "same_as" in extra:
            check(ge, odst == first_pa.get(extra["same_as"]), "%s: the flow moved to %s" % (tag, odst))
        if odst in HOST_OF_PA:
            to_ingress.setdefault(HOST_OF_PA[odst], []).append((tag, out, inner.dst, inner.src))
    elif "echo" in extra:
        ge = "egress hv1: echo replies from the gateway addresses (scapy)"
        p = Ether(out)
        if IP in p:
            ok = ICMP in p and p[ICMP].type == 0 and p[ICMP].id == sent[ICMP].id and p[ICMP].seq == sent[ICMP].seq and \
                bytes(p[ICMP].payload) == bytes(sent[ICMP].payload) and p[IP].src == extra["echo"] and p[IP].dst == sent[IP].src
        else:
            ok = ICMPv6EchoReply in p and p[ICMPv6EchoReply].id == sent[ICMPv6EchoRequest].id and \
                p[ICMPv6EchoReply].data == sent[ICMPv6EchoRequest].data and p[IPv6].src == extra["echo"]
        check(ge, ok, "%s: %s" % (tag, p.summary()))
        check(ge, p.src == RED_ROUTER and p.dst == WEB, "%s: MACs %s > %s" % (tag, p.src, p.dst))
        check(ge, checksums_ok(p), "%s: checksums" % tag)
    elif "error" in extra:
        typ, code, src, router = extra["error"]
        ge = "egress hv1: ICMP errors from the router (type, code, source, MACs, quote, checksums)"
        p = Ether(out)
        ok = check(ge, ICMP in p and IPerror in p, "%s: not an ICMP error: %s" % (tag, p.summary()))
        if ok:
            check(ge, (p[ICMP].type, p[ICMP].code) == (typ, code), "%s: type %d code %d" % (tag, p[ICMP].type, p[ICMP].code))
            check(ge, p[IP].src == src and p[IP].dst == sent[IP].src, "%s: %s > %s" % (tag, p[IP].src, p[IP].dst))
            check(ge, p.src == router and p.dst == sent.src, "%s: MACs %s > %s" % (tag, p.src, p.dst))
            check(ge, bytes(p[IPerror]) == bytes(sent[IP])[:548], "%s: the quote is not the packet as sent" % tag)
            check(ge, checksums_ok(p), "%s: checksums" % tag)
    elif "error6" in extra:
        typ, code, src = extra["error6"]
        ge = "egress hv1: ICMPv6 errors from the router"
        p = Ether(out)
        ok = check(ge, ICMPv6TimeExceeded in p and IPerror6 in p, "%s: not ICMPv6 time exceeded: %s" % (tag, p.summary()))
        if ok:
            check(ge, p[ICMPv6TimeExceeded].code == code and p[IPv6].src == src and p[IPv6].dst == sent[IPv6].src,
                  "%s: code %d, %s > %s" % (tag, p[ICMPv6TimeExceeded].code, p[IPv6].src, p[IPv6].dst))
            check(ge, bytes(p[IPerror6]) == bytes(sent[IPv6]), "%s: the quote is not the packet as sent" % tag)
            check(ge, checksums_ok(p), "%s: checksums" % tag)
check("egress hv1: the flow hash spreads flows over both gateways", set(first_pa.values()) == {HV2_PA, HV3_PA},
      "gateway PAs used: %s" % sorted(set(first_pa.values())))

# ---- ingress on the gateways' hosts: delivered to the gateway / next hop, routed -------------
for host, items in sorted(to_ingress.items()):
    lines, outs = run("ingress", host, "ingress-" + host, [it[1] for it in items])
    gi = "ingress %s: delivered to the gateway / next-hop VM, source MAC as sent by egress" % host
    for (tag, _, dst_mac, src_mac), l in zip(items, lines):
        if l is None:
            continue
        ok = check(gi, l["verdict"] == "deliver" and len(l["out"]) == 1, "%s: %s" % (tag, l))
        if ok:
            p = Ether(outs[l["out"][0] - 1])
            check(gi, p.dst == dst_mac and p.src == src_mac, "%s: delivered %s > %s" % (tag, p.src, p.dst))

# ---- from the gateway red-gw1 (hv2) back into the tenant --------------------------------------
back = [("red-gw1 forwards 203.0.113.10 -> red-web", udp(GW1, WEB, "203.0.113.10", "10.0.0.5", ttl=50), "encap"),
        ("red-gw1 forwards 203.0.113.10 -> red-lab (VSID 5003)", udp(GW1, RED_ROUTER, "203.0.113.10", "10.0.3.5", ttl=50), "encap"),
        ("red-gw1 claims red-web's CA", udp(GW1, WEB, "10.0.0.6", "10.0.0.5"), "drop")]
lines, outs = run("egress", "hv2", "egress-hv2", [b[1] for b in back])
gb = "gateway traffic: egress hv2 from red-gw1, ingress hv1 (outside sources only from a gateway PA)"
arrivals = []
for (name, frame, verdict), l in zip(back, lines):
    if l is None:
        continue
    check(gb, l["verdict"] == verdict, "%s: %s" % (name, l))
    if verdict == "drop":
        check(gb, l.get("reason") == "spoofed-source", "%s: %s" % (name, l))
    elif l["verdict"] == "encap":
        arrivals.append(outs[l["out"][0] - 1])
# The same outside source wrapped by hv1's PA (no gateway there): spoofed on hv2.
forged = bytes(Ether(src="02:00:c0:a8:0a:0b", dst="02:00:c0:a8:0a:0c") / IP(src=HV1_PA, dst=HV2_PA, flags="DF") /
               GRE(key_present=1, proto=0x6558, key=5001 << 8 | 1) / Ether(udp(WEB, "00:15:5d:00:00:06", "203.0.113.10", "10.0.0.6")))
lines, outs = run("ingress", "hv1", "ingress-hv1-from-gw", arrivals)
want = [("deliver", WEB, GW1), ("deliver", LAB, RED_ROUTER)]
for (verdict, dst, src), l in zip(want, lines):
    if l is None:
        continue
    ok = check(gb, l["verdict"] == verdict and len(l["out"]) == 1, "ingress hv1: %s" % l)
    if ok:
        p = Ether(outs[l["out"][0] - 1])
        check(gb, p.dst == dst and p.src == src, "ingress hv1: delivered %s > %s, expected %s > %s" % (p.src, p.dst, src, dst))
lines, _ = run("ingress", "hv2", "ingress-hv2-forged", [forged])
if lines and lines[0] is not None:
    check(gb, lines[0]["verdict"] == "drop" and lines[0].get("reason") == "spoofed-source", "forged outside source: %s" % lines[0])

sys.exit(1 if check.report("gateway_cli") else 0)
