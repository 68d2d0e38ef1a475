#!/usr/bin/python3
"""The library's encapsulation against tshark's dissectors (Wireshark 4.0).

nvgre_emit_frames writes a pcap of NVGRE frames built with the library's reprs (several VSIDs
and FlowIDs, IPv4 and IPv6 outer, inner IPv4 and IPv6, outer 802.1Q) and prints one JSON line
per frame saying what it encoded. This script dissects the pcap with
`tshark -T json -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE` and checks, per frame:
GRE flags 0x2000, protocol 0x6558, key = VSID << 8 | FlowID (tshark 4.0 shows only the key),
outer addresses / TTL / DSCP / ECN / DF / VLAN, outer and inner IPv4 header checksums good,
inner MACs, addresses and UDP ports, inner UDP checksum good, nothing malformed. Then it runs
`nvgre-pcap show` on the same file and checks its lines against the same manifest.

usage: tshark_emitted.py EMITTER NVGRE_PCAP WORK_DIR      (exit 77 when tshark is missing)
"""
import ipaddress
import json
import os
import shutil
import subprocess
import sys


def as_list(x):
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def same_addr(a, b):
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    emitter, tool, work = sys.argv[1:]
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not found, skipped")
        return 77
    os.makedirs(work, exist_ok=True)
    pcap = os.path.join(work, "emitted.pcap")

    emitted = subprocess.run([emitter, pcap], capture_output=True, text=True)
    if emitted.returncode != 0:
        print("FAIL: %s exited %d: %s" % (emitter, emitted.returncode, emitted.stderr.strip()))
        return 1
    manifest = [json.loads(line) for line in emitted.stdout.splitlines()]

    dissected = subprocess.run([tshark, "-r", pcap, "-T", "json", "--no-duplicate-keys",
                                "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"],
                               capture_output=True, text=True)
    if dissected.returncode != 0:
        print("FAIL: tshark exited %d: %s" % (dissected.returncode, dissected.stderr.strip()))
        return 1
    packets = json.loads(dissected.stdout)
    if len(packets) != len(manifest):
        print("FAIL: %d frames emitted, tshark dissected %d" % (len(manifest), len(packets)))
        return 1

    groups = {}  # group title -> list of problems

    def check(group, cond, what):
        groups.setdefault(group, [])
        if not cond:
            groups[group].append(what)

    for m, pkt in zip(manifest, packets):
        n = m["n"]
        L = pkt["_source"]["layers"]
        tag = "frame %d" % n
        g = "GRE: flags 0x2000, protocol 0x6558, key = VSID<<8 | FlowID"
        gre = L.get("gre")
        check(g, isinstance(gre, dict), "%s: no single GRE layer" % tag)
        if isinstance(gre, dict):
            check(g, gre.get("gre.flags_and_version") == "0x2000", "%s: flags %s" % (tag, gre.get("gre.flags_and_version")))
            check(g, gre.get("gre.proto") == "0x6558", "%s: protocol %s" % (tag, gre.get("gre.proto")))
            key = int(gre.get("gre.key", "-1"), 16)
            check(g, key == m["key"] and key >> 8 == m["vsid"] and key & 0xFF == m["flow_id"],
                  "%s: key 0x%08x, expected VSID %d FlowID %d" % (tag, key, m["vsid"], m["flow_id"]))

        eths = as_list(L.get("eth"))
        v4 = as_list(L.get("ip"))
        v6 = as_list(L.get("ipv6"))
        g = "outer: addresses, TTL/hop limit, DSCP, ECN, DF, VLAN, IPv4 checksum good"
        check(g, len(eths) == 2, "%s: %d Ethernet layers" % (tag, len(eths)))
        if len(eths) == 2:
            check(g, eths[0].get("eth.src") == "02:00:c0:a8:0a:0b" and eths[0].get("eth.dst") == "02:00:c0:a8:0a:0c",
                  "%s: outer MACs %s > %s" % (tag, eths[0].get("eth.src"), eths[0].get("eth.dst")))
        vlan = L.get("vlan")
        if m["vlan"] is None:
            check(g, vlan is None, "%s: unexpected VLAN layer" % tag)
        else:
            check(g, isinstance(vlan, dict) and vlan.get("vlan.id") == str(m["vlan"]), "%s: VLAN %r" % (tag, vlan))
        if m["outer_l3"] == "ipv4":
            o = v4[0] if v4 else {}
            ds = o.get("ip.dsfield_tree", {})
            check(g, same_addr(o.get("ip.src"), m["outer_src"]) and same_addr(o.get("ip.dst"), m["outer_dst"]),
                  "%s: outer %s > %s" % (tag, o.get("ip.src"), o.get("ip.dst")))
            check(g, o.get("ip.ttl") == str(m["ttl"]), "%s: ttl %s" % (tag, o.get("ip.ttl")))
            check(g, ds.get("ip.dsfield.dscp") == str(m["dscp"]) and ds.get("ip.dsfield.ecn") == str(m["ecn"]),
                  "%s: dscp/ecn %s" % (tag, ds))
            check(g, o.get("ip.flags_tree", {}).get("ip.flags.df") == "1", "%s: DF not set" % tag)
            check(g, o.get("ip.proto") == "47", "%s: protocol %s" % (tag, o.get("ip.proto")))
            check(g, o.get("ip.checksum.status") == "1", "%s: outer IPv4 checksum status %s" % (tag, o.get("ip.checksum.status")))
        else:
            o = v6[0] if v6 else {}
            tc = o.get("ipv6.tclass_tree", {})
            check(g, same_addr(o.get("ipv6.src"), m["outer_src"]) and same_addr(o.get("ipv6.dst"), m["outer_dst"]),
                  "%s: outer %s > %s" % (tag, o.get("ipv6.src"), o.get("ipv6.dst")))
            check(g, o.get("ipv6.hlim") == str(m["ttl"]), "%s: hop limit %s" % (tag, o.get("ipv6.hlim")))
            check(g, tc.get("ipv6.tclass.dscp") == str(m["dscp"]) and tc.get("ipv6.tclass.ecn") == str(m["ecn"]),
                  "%s: traffic class %s" % (tag, tc))
            check(g, o.get("ipv6.nxt") == "47", "%s: next header %s" % (tag, o.get("ipv6.nxt")))

        g = "inner: MACs, addresses, UDP ports, IPv4 and UDP checksums good"
        if len(eths) == 2:
            check(g, eths[1].get("eth.src") == m["inner_src_mac"] and eths[1].get("eth.dst") == m["inner_dst_mac"],
                  "%s: inner MACs %s > %s" % (tag, eths[1].get("eth.src"), eths[1].get("eth.dst")))
        if m["inner_l3"] == "ipv4":
            i = v4[-1] if v4 else {}
            check(g, len(v4) == (2 if m["outer_l3"] == "ipv4" else 1), "%s: %d IPv4 layers" % (tag, len(v4)))
            check(g, same_addr(i.get("ip.src"), m["inner_src"]) and same_addr(i.get("ip.dst"), m["inner_dst"]),
                  "%s: inner %s > %s" % (tag, i.get("ip.src"), i.get("ip.dst")))
            check(g, i.get("ip.checksum.status") == "1", "%s: inner IPv4 checksum status %s" % (tag, i.get("ip.checksum.status")))
        else:
            i = v6[-1] if v6 else {}
            check(g, len(v6) == (2 if m["outer_l3"] == "ipv6" else 1), "%s: %d IPv6 layers" % (tag, len(v6)))
            check(g, same_addr(i.get("ipv6.src"), m["inner_src"]) and same_addr(i.get("ipv6.dst"), m["inner_dst"]),
                  "%s: inner %s > %s" % (tag, i.get("ipv6.src"), i.get("ipv6.dst")))
        udp = L.get("udp")
        check(g, isinstance(udp, dict), "%s: no single UDP layer" % tag)
        if isinstance(udp, dict):
            check(g, udp.get("udp.srcport") == str(m["sport"]) and udp.get("udp.dstport") == str(m["dport"]),
                  "%s: ports %s > %s" % (tag, udp.get("udp.srcport"), udp.get("udp.dstport")))
            check(g, udp.get("udp.checksum.status") == "1", "%s: UDP checksum status %s" % (tag, udp.get("udp.checksum.status")))

        g = "frame: length, nothing malformed"
        frame = L.get("frame", {})
        check(g, frame.get("frame.len") == str(m["len"]), "%s: length %s, expected %d" % (tag, frame.get("frame.len"), m["len"]))
        check(g, "_ws.malformed" not in L and "_ws.expert" not in L, "%s: tshark reports a problem" % tag)

    # nvgre-pcap show reads what the library wrote: same answers as the manifest.
    g = "nvgre-pcap show on the emitted file agrees with the manifest"
    shown = subprocess.run([tool, "show", pcap], capture_output=True, text=True)
    check(g, shown.returncode == 0, "show exited %d: %s" % (shown.returncode, shown.stderr.strip()))
    lines = [json.loads(x) for x in shown.stdout.splitlines()] if shown.returncode == 0 else []
    check(g, len(lines) == len(manifest), "%d lines for %d frames" % (len(lines), len(manifest)))
    for m, s in zip(manifest, lines):
        want = {"n": m["n"], "nvgre": {"vsid": m["vsid"], "flow_id": m["flow_id"]},
                "outer": {"l3": m["outer_l3"], "src": m["outer_src"], "dst": m["outer_dst"], "vlan": m["vlan"],
                          "ttl": m["ttl"], "dscp": m["dscp"], "ecn": m["ecn"]},
                "inner": {"src_mac": m["inner_src_mac"], "dst_mac": m["inner_dst_mac"],
                          "ethertype": 0x0800 if m["inner_l3"] == "ipv4" else 0x86DD, "l3": m["inner_l3"],
                          "src": m["inner_src"], "dst": m["inner_dst"]}}
        ok = list(s.keys()) == list(want.keys()) and s.get("nvgre") == want["nvgre"]
        for part in ("outer", "inner"):
            got = s.get(part, {})
            ok = ok and list(got.keys()) == list(want[part].keys())
            for k, v in want[part].items():
                ok = ok and (same_addr(got.get(k), v) if k in ("src", "dst") else got.get(k) == v)
        check(g, ok, "frame %d: show says %s, expected %s" % (m["n"], json.dumps(s), json.dumps(want)))

    failures = 0
    for title, problems in groups.items():
        print("%-78s %s" % (title, "ok" if not problems else "FAILED (%d)" % len(problems)))
        for p in problems:
            print("    " + p)
        failures += len(problems)
    print("tshark_emitted: %d frames, %d check groups, %d mismatches" % (len(manifest), len(groups), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
