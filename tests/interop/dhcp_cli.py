#!/usr/bin/python3
"""DHCP from policy, the port guards, MAC spoofing and the bandwidth cap of port classifications
through `nvgre-pcap egress` / `ingress` (docs/nvgre-pcap.md; docs/hnv-rules.md "Ports,
classifications and DHCP"), every frame crafted and every answer re-dissected by scapy, the
answers by tshark too.

  dhcp_cli.py NVGRE_PCAP POLICY WORK_DIR      (POLICY: examples/policies/classified.policy)

On hv1 (red-web 10.0.0.5 unclassified, red-app 10.0.0.7 guarded, red-cap 10.0.0.8 capped at
1 Mbit/s with a 3000-byte bucket, outer DSCP 46 and MAC spoofing allowed; subnet 5001 has
dhcp=on, gateway 10.0.0.1, DNS 10.0.0.53 and 9.9.9.9, a 3600 s lease):
 1. DHCP: DISCOVER with and without the broadcast flag -> OFFER; REQUEST (selecting, with the
    server identifier; init-reboot, broadcast flag) for the VM's CA -> ACK; REQUEST for another
    address -> NAK (broadcast, options 53 and 54 only); REQUEST when renewing (ciaddr, unicast
    to the gateway) and rebinding (ciaddr, broadcast) -> ACK unicast to ciaddr; INFORM -> ACK
    without yiaddr or lease; chaddr of another NIC -> drop spoofed-source; a REQUEST naming
    another server -> drop to-router; the guarded and capped VMs' DISCOVERs are answered too.
    Every field of every answer is checked (RFC 2131 4.1, 4.3 and table 3): MACs, IP addresses,
    IP and UDP checksums and lengths recomputed by scapy, ports 67 -> 68, op, htype, hlen,
    hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file, the magic
    cookie, options 53 / 54 / 51 / 58 / 59 / 1 / 3 / 6 and that no other option appears,
    the message at least 300 bytes (RFC 1542 2.1); tshark decodes each answer as DHCP of the
    right type with no expert info of warning level or above (malformed, bad checksum).
 2. Guards: a DHCP server message from red-app -> drop dhcp-guard; an ICMP redirect, an ICMP
    router advertisement, an ICMPv6 RA and an ICMPv6 redirect from it -> router-guard; the same
    frames from red-web are not guarded.
 3. --port: frames from foreign source MACs on red-cap's port (spoofing allowed) with its own
    CA -> encap (outer DSCP 46), with another VM's CA -> spoofed-source; on red-app's port (no
    spoofing) -> spoofed-source; --port usage errors.
 4. Bandwidth on capture time: 1000-byte frames from red-cap 1 ms apart, then a burst after a
    pause: exactly the frames a 1 Mbit/s, 3000-byte token bucket passes (encap), the others
    rate-limited; the same toward red-cap on ingress (its bucket toward the VM).
 5. The per-port and per-VSID counters on stderr, recomputed from the frames and the verdicts.
Exits 1 on any mismatch, 77 when scapy is missing.
"""
import json
import os
import shutil
import struct
import subprocess
import sys

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
try:
    from scapy.all import (BOOTP, DHCP, Dot1Q, GRE, ICMP, IP, IPerror, IPv6, ICMPv6ND_RA, ICMPv6ND_Redirect, UDP, Ether, Raw,
                           rdpcap)
    from scapy.utils import checksum as inet_checksum
except ImportError:
    print("scapy is not importable from %s (Debian: apt-get install python3-scapy), skipped" % sys.executable)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_support import checker  # noqa: E402

HV1_PA, HV2_PA = "192.168.10.11", "192.168.10.12"
WEB, APP, CAP, DB = "00:15:5d:00:00:05", "00:15:5d:00:00:07", "00:15:5d:00:00:08", "00:15:5d:00:00:06"
CA = {WEB: "10.0.0.5", APP: "10.0.0.7", CAP: "10.0.0.8", DB: "10.0.0.6"}
NAME = {WEB: "red-web", APP: "red-app", CAP: "red-cap", DB: "red-db"}
HV1_PORTS = [WEB, APP, CAP]  # numbered 0, 1, 2 in MAC order
HV2_PORTS = [DB]
FOREIGN = "00:15:5d:00:00:99"  # no NIC of the policy
ROUTER = "02:00:5e:00:01:01"
GATEWAY, MASK, DNS, LEASE = "10.0.0.1", "255.255.255.0", ["10.0.0.53", "9.9.9.9"], 3600
BROADCAST_MAC, BROADCAST_IP = "ff:ff:ff:ff:ff:ff", "255.255.255.255"
VSID = 5001
MAGIC = b"\x63\x82\x53\x63"
T0 = 1700000000  # capture time of the first frame, seconds

tool, policy, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
check = checker(width=96)


def write_pcap_at(path, frames, usecs):
    """A classic Ethernet pcap; frame i at T0 + usecs[i] microseconds."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for frame, us in zip(frames, usecs):
            f.write(struct.pack("<IIII", T0 + us // 1000000, us % 1000000, len(frame), len(frame)) + bytes(frame))


def run(direction, host, name, frames, options=(), usecs=None):
    """nvgre-pcap DIRECTION on HOST over `frames` (1 s apart unless `usecs`); returns (JSON lines,
    output frames, stderr lines), or None when it failed."""
    inp, out = os.path.join(work, name + ".in.pcap"), os.path.join(work, name + ".out.pcap")
    write_pcap_at(inp, frames, usecs if usecs is not None else [i * 1000000 for i in range(len(frames))])
    r = subprocess.run([tool, direction, "--policy", policy, "--host", host] + list(options) + [inp, out],
                       capture_output=True, text=True)
    g = "nvgre-pcap runs (exit 0, a JSON line per frame)"
    if not check(g, r.returncode == 0, "%s: exit %d: %s" % (name, r.returncode, r.stderr.strip())):
        return None
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    if not check(g, len(lines) == len(frames), "%s: %d lines for %d frames" % (name, len(lines), len(frames))):
        return None
    outs = [bytes(p) for p in rdpcap(out)] if os.path.getsize(out) > 24 else []
    return lines, outs, r.stderr.splitlines(), out


# ---- frames -------------------------------------------------------------------------------
def dhcp_client(mac, msg, xid, flags=0, ciaddr="0.0.0.0", src="0.0.0.0", dst=BROADCAST_IP, eth_dst=BROADCAST_MAC,
                chaddr=None, options=(), pad=True):
    """A DHCP client message from the NIC `mac` (RFC 2131 table 5), padded to 300 bytes of BOOTP
    as clients send them unless `pad` is false."""
    hw = bytes.fromhex((chaddr or mac).replace(":", ""))
    opts = [("message-type", msg)] + list(options) + [("param_req_list", [1, 3, 6, 15, 51, 54, 58, 59]), "end"]
    bootp = BOOTP(op=1, xid=xid, flags=flags, ciaddr=ciaddr, chaddr=hw) / DHCP(options=opts)
    if pad and len(bootp) < 300:
        bootp = bootp / Raw(b"\x00" * (300 - len(bootp)))
    return bytes(Ether(src=mac, dst=eth_dst) / IP(src=src, dst=dst) / UDP(sport=68, dport=67) / bootp)


def udp(src_mac, dst_mac, src, dst, size=None, tos=0, sport=4000, dport=5000, payload=b"classified"):
    """A UDP frame; `size`: the whole Ethernet frame's length (without FCS)."""
    p = Ether(src=src_mac, dst=dst_mac) / IP(src=src, dst=dst, tos=tos, flags="DF") / UDP(sport=sport, dport=dport)
    if size is not None:
        payload = b"b" * (size - len(p))
    return bytes(p / Raw(payload))


def checksums_and_lengths_ok(frame):
    """The IPv4 header checksum and length and the UDP checksum and length of `frame` are what
    scapy computes afresh."""
    p = Ether(frame)
    again = Ether(frame)
    del again[IP].chksum, again[IP].len
    if UDP in again:
        del again[UDP].chksum, again[UDP].len
    fresh = Ether(bytes(again))
    ok = fresh[IP].chksum == p[IP].chksum and fresh[IP].len == p[IP].len
    if UDP in p:
        ok = ok and fresh[UDP].chksum == p[UDP].chksum and fresh[UDP].len == p[UDP].len and p[UDP].chksum != 0
    return ok


def raw_options(bootp_bytes):
    """The DHCP options after the magic cookie as [(code, value bytes)], stopping at END (255);
    None when the option area is malformed or has something but PAD after END."""
    body = bootp_bytes[240:]
    opts, i = [], 0
    while i < len(body):
        code = body[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            return opts if all(b == 0 for b in body[i + 1:]) else None
        if i + 1 >= len(body) or i + 2 + body[i + 1] > len(body):
            return None
        opts.append((code, bytes(body[i + 2:i + 2 + body[i + 1]])))
        i += 2 + body[i + 1]
    return None  # no END


def ip4(text):
    return bytes(int(x) for x in text.split("."))


# ---- 1. DHCP ------------------------------------------------------------------------------
OFFER, ACK, NAK = 2, 5, 6
# Each case: (name, frame, expected): expected is None for a drop (then `reason`), else a dict
# of the answer's fields.
FULL = {51: struct.pack(">I", LEASE), 58: struct.pack(">I", LEASE // 2), 59: struct.pack(">I", LEASE * 7 // 8),
        1: ip4(MASK), 3: ip4(GATEWAY), 6: b"".join(ip4(d) for d in DNS), 54: ip4(GATEWAY)}
NO_LEASE = {k: v for k, v in FULL.items() if k not in (51, 58, 59)}
CLIENT_ID = b"\x01" + bytes.fromhex(WEB.replace(":", ""))  # type 1 (Ethernet) + MAC, as dhclient sends it


def answer(mac, msg_type, eth_dst, ip_dst, xid, flags=0, ciaddr="0.0.0.0", yiaddr=None, options=None):
    return {"mac": mac, "type": msg_type, "eth_dst": eth_dst, "ip_dst": ip_dst, "xid": xid, "flags": flags,
            "ciaddr": ciaddr, "yiaddr": yiaddr if yiaddr is not None else CA[mac],
            "options": {**(options if options is not None else FULL), 53: bytes([msg_type])}}


dhcp_cases = [
    ("DISCOVER, no broadcast flag -> OFFER unicast to yiaddr and the NIC",
     dhcp_client(WEB, "discover", 0x1001), answer(WEB, OFFER, WEB, CA[WEB], 0x1001)),
    ("DISCOVER, broadcast flag -> OFFER broadcast",
     dhcp_client(WEB, "discover", 0x1002, flags=0x8000), answer(WEB, OFFER, BROADCAST_MAC, BROADCAST_IP, 0x1002, flags=0x8000)),
    ("DISCOVER not padded to 300 bytes -> OFFER unicast (grown in place)",
     dhcp_client(WEB, "discover", 0x1003, pad=False), answer(WEB, OFFER, WEB, CA[WEB], 0x1003)),
    ("REQUEST selecting (option 50 = CA, 54 = gateway) -> ACK unicast",
     dhcp_client(WEB, "request", 0x1004, options=[("requested_addr", CA[WEB]), ("server_id", GATEWAY)]),
     answer(WEB, ACK, WEB, CA[WEB], 0x1004)),
    ("REQUEST init-reboot (option 50 = CA), broadcast flag -> ACK broadcast",
     dhcp_client(WEB, "request", 0x1005, flags=0x8000, options=[("requested_addr", CA[WEB])]),
     answer(WEB, ACK, BROADCAST_MAC, BROADCAST_IP, 0x1005, flags=0x8000)),
    ("REQUEST for another address (option 50 = 10.0.0.99) -> NAK broadcast",
     dhcp_client(WEB, "request", 0x1006, options=[("requested_addr", "10.0.0.99")]),
     answer(WEB, NAK, BROADCAST_MAC, BROADCAST_IP, 0x1006, yiaddr="0.0.0.0", options={54: ip4(GATEWAY)})),
    ("REQUEST for another address, broadcast flag -> NAK broadcast, flag echoed",
     dhcp_client(WEB, "request", 0x1007, flags=0x8000, options=[("requested_addr", "10.0.0.99"), ("server_id", GATEWAY)]),
     answer(WEB, NAK, BROADCAST_MAC, BROADCAST_IP, 0x1007, flags=0x8000, yiaddr="0.0.0.0", options={54: ip4(GATEWAY)})),
    ("REQUEST renewing (ciaddr = CA, unicast to the gateway) -> ACK unicast to ciaddr",
     dhcp_client(WEB, "request", 0x1008, ciaddr=CA[WEB], src=CA[WEB], dst=GATEWAY, eth_dst=ROUTER),
     answer(WEB, ACK, WEB, CA[WEB], 0x1008, ciaddr=CA[WEB])),
    ("REQUEST rebinding (ciaddr = CA, broadcast, broadcast flag) -> ACK unicast to ciaddr",
     dhcp_client(WEB, "request", 0x1009, flags=0x8000, ciaddr=CA[WEB], src=CA[WEB]),
     answer(WEB, ACK, WEB, CA[WEB], 0x1009, flags=0x8000, ciaddr=CA[WEB])),
    ("INFORM (ciaddr = CA) -> ACK to ciaddr without yiaddr or lease",
     dhcp_client(WEB, "inform", 0x100a, ciaddr=CA[WEB], src=CA[WEB]),
     answer(WEB, ACK, WEB, CA[WEB], 0x100a, ciaddr=CA[WEB], yiaddr="0.0.0.0", options=NO_LEASE)),
    ("DISCOVER with a client identifier (61) -> OFFER echoing it unaltered (RFC 6842)",
     dhcp_client(WEB, "discover", 0x100f, options=[("client_id", CLIENT_ID)]),
     answer(WEB, OFFER, WEB, CA[WEB], 0x100f, options={**FULL, 61: CLIENT_ID})),
    ("REQUEST for another address with a client identifier -> NAK with 53, 54 and 61 (RFC 6842)",
     dhcp_client(WEB, "request", 0x1010, options=[("requested_addr", "10.0.0.99"), ("client_id", CLIENT_ID)]),
     answer(WEB, NAK, BROADCAST_MAC, BROADCAST_IP, 0x1010, yiaddr="0.0.0.0", options={54: ip4(GATEWAY), 61: CLIENT_ID})),
    ("DISCOVER whose chaddr is another NIC's -> drop spoofed-source",
     dhcp_client(WEB, "discover", 0x100b, chaddr=FOREIGN), {"reason": "spoofed-source"}),
    ("REQUEST naming another server (54 = 10.0.0.99) -> drop to-router",
     dhcp_client(WEB, "request", 0x100c, options=[("requested_addr", CA[WEB]), ("server_id", "10.0.0.99")]),
     {"reason": "to-router"}),
    ("red-app (guarded) DISCOVER -> OFFER of its CA (guards stop servers, not clients)",
     dhcp_client(APP, "discover", 0x100d), answer(APP, OFFER, APP, CA[APP], 0x100d)),
    ("red-cap (capped) DISCOVER -> OFFER of its CA",
     dhcp_client(CAP, "discover", 0x100e, flags=0x8000), answer(CAP, OFFER, BROADCAST_MAC, BROADCAST_IP, 0x100e, flags=0x8000)),
]

TYPE_NAME = {OFFER: "offer", ACK: "ack", NAK: "nak"}


def check_answer(tag, sent, out, want):
    """Every field of DHCP answer `out` to `sent` against `want` (see answer())."""
    g = "DHCP answers: every field (RFC 2131 4.1, 4.3, table 3)"
    p = Ether(out)
    if not check(g, IP in p and UDP in p and BOOTP in p and DHCP in p, "%s: not DHCP: %s" % (tag, p.summary())):
        return
    s = Ether(sent)
    b = p[BOOTP]
    bootp_bytes = bytes(p[UDP].payload)
    nak = want["type"] == NAK
    fields = [
        ("Ethernet src", p.src, ROUTER), ("Ethernet dst", p.dst, want["eth_dst"]), ("EtherType", p.type, 0x0800),
        ("IP version/IHL", (p[IP].version, p[IP].ihl), (4, 5)), ("IP protocol", p[IP].proto, 17),
        ("IP src", p[IP].src, GATEWAY), ("IP dst", p[IP].dst, want["ip_dst"]),
        ("IP not fragmented", (p[IP].frag, int(p[IP].flags) & 1), (0, 0)), ("IP TTL > 0", p[IP].ttl > 0, True),
        ("UDP ports", (p[UDP].sport, p[UDP].dport), (67, 68)),
        ("op", b.op, 2), ("htype", b.htype, 1), ("hlen", b.hlen, 6), ("hops", b.hops, 0),
        ("xid", b.xid, want["xid"]), ("xid as sent", b.xid, s[BOOTP].xid), ("secs", b.secs, 0),
        ("flags", int(b.flags), want["flags"]), ("ciaddr", b.ciaddr, want["ciaddr"] if not nak else "0.0.0.0"),
        ("yiaddr", b.yiaddr, want["yiaddr"]), ("siaddr", b.siaddr, "0.0.0.0"), ("giaddr", b.giaddr, "0.0.0.0"),
        ("chaddr", bytes(b.chaddr), bytes.fromhex(want["mac"].replace(":", "")) + b"\x00" * 10),
        ("sname", bytes(b.sname), b"\x00" * 64), ("file", bytes(b.file), b"\x00" * 128),
        ("magic cookie", bootp_bytes[236:240], MAGIC),
        ("BOOTP message >= 300 bytes (RFC 1542 2.1)", len(bootp_bytes) >= 300, True),
        ("IP length = the frame's", p[IP].len, len(out) - 14),
    ]
    for what, got, expected in fields:
        check(g, got == expected, "%s: %s %r, expected %r" % (tag, what, got, expected))
    check(g, checksums_and_lengths_ok(out), "%s: IP / UDP checksum or length differs from scapy's" % tag)

    go = "DHCP answers: options exactly 53 / 54 / 51 / 58 / 59 / 1 / 3 / 6 (NAK: 53 and 54)"
    raw = raw_options(bootp_bytes)
    if not check(go, raw is not None, "%s: the option area is malformed (no END, or data after it)" % tag):
        return
    codes = [c for c, _ in raw]
    check(go, len(codes) == len(set(codes)), "%s: an option appears twice: %s" % (tag, codes))
    got = {c: v for c, v in raw if c != 61}
    expected = {c: v for c, v in want["options"].items() if c != 61}
    check(go, got == expected, "%s: options %s, expected %s" % (tag, sorted(got.items()), sorted(expected.items())))
    # RFC 6842 3 (updating RFC 2131): "If the 'client identifier' option is present in a message
    # received from a client, the server MUST return the 'client identifier' option, unaltered,
    # in its response message" (OFFER, ACK and NAK alike); a server MUST NOT add one otherwise.
    g61 = "DHCP answers: the client identifier (61) echoed unaltered when sent, absent otherwise (RFC 6842)"
    check(g61, dict(raw).get(61) == want["options"].get(61),
          "%s: option 61 %r, expected %r" % (tag, dict(raw).get(61), want["options"].get(61)))
    # scapy's own reading of the same options.
    named = {o[0]: o[1:] for o in p[DHCP].options if isinstance(o, tuple) and o[0] != "client_id"}
    expect_named = {"message-type": (want["type"],), "server_id": (GATEWAY,)}
    if not nak:
        expect_named.update({"subnet_mask": (MASK,), "router": (GATEWAY,), "name_server": tuple(DNS)})
        if 51 in want["options"]:
            expect_named.update({"lease_time": (LEASE,), "renewal_time": (LEASE // 2,), "rebinding_time": (LEASE * 7 // 8,)})
    check(go, named == expect_named, "%s: scapy reads %s, expected %s" % (tag, named, expect_named))


def tshark_dhcp(path, frames_wanted):
    """tshark's reading of the DHCP answers at 1-based positions `frames_wanted` of `path`:
    {frame: (message type, yiaddr, [expert messages of warning level or above])}."""
    r = subprocess.run(["tshark", "-n", "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                        "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;",
                        "-e", "frame.number", "-e", "dhcp.option.dhcp", "-e", "dhcp.ip.your",
                        "-e", "_ws.expert.severity", "-e", "_ws.expert.message", "-e", "_ws.malformed"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    seen = {}
    for line in r.stdout.splitlines():
        n, msg, yi, sev, texts, malformed = (line.split("|") + [""] * 6)[:6]
        severities = [int(x) for x in sev.split(";") if x]
        messages = texts.split(";") if texts else []
        # Wireshark's severities: chat 0x200000, note 0x400000, warn 0x600000, error 0x800000.
        bad = [m for s, m in zip(severities, messages) if s >= 0x600000]
        if malformed:
            bad.append("malformed")
        seen[int(n)] = (int(msg) if msg else None, yi, bad)
    return {n: seen.get(n) for n in frames_wanted}, ""


result = run("egress", "hv1", "dhcp", [c[1] for c in dhcp_cases])
dhcp_run = None
if result:
    lines, outs, err, out_path = result
    dhcp_run = ([c[1] for c in dhcp_cases], lines, outs, err, [])
    gv = "DHCP: JSON lines (reply for answers, drop with its reason)"
    answered = {}
    for i, ((name, frame, want), l) in enumerate(zip(dhcp_cases, lines)):
        tag = "%d (%s)" % (i + 1, name)
        mac = Ether(frame).src
        if "reason" in want:
            check(gv, l == {"n": i + 1, "verdict": "drop", "reason": want["reason"], "vsid": VSID, "out": []},
                  "%s: %s" % (tag, l))
            continue
        ok = check(gv, l.get("verdict") == "reply" and "reason" not in l and l.get("vsid") == VSID and len(l["out"]) == 1,
                   "%s: %s" % (tag, l))
        if ok:
            answered[l["out"][0]] = (tag, want)
            check_answer(tag, frame, outs[l["out"][0] - 1], want)
    if shutil.which("tshark"):
        gt = "DHCP answers: tshark decodes each as DHCP of its type, nothing malformed or bad"
        decoded, why = tshark_dhcp(out_path, sorted(answered))
        if check(gt, decoded is not None, "tshark failed: %s" % why):
            for n, (tag, want) in sorted(answered.items()):
                d = decoded.get(n)
                if not check(gt, d is not None and d[0] is not None, "%s: tshark sees no DHCP in frame %d" % (tag, n)):
                    continue
                check(gt, d[0] == want["type"], "%s: tshark reads message type %s, expected %d" % (tag, d[0], want["type"]))
                check(gt, d[1] == want["yiaddr"], "%s: tshark reads yiaddr %s, expected %s" % (tag, d[1], want["yiaddr"]))
                check(gt, not d[2], "%s: tshark expert info: %s" % (tag, d[2]))
    else:
        print("tshark is not installed: the answers are checked with scapy only")


# ---- 2. guards ----------------------------------------------------------------------------
def server_offer(mac, dst=BROADCAST_IP, eth_dst=BROADCAST_MAC):
    bootp = BOOTP(op=2, xid=0x2001, yiaddr="10.0.0.77", siaddr=CA[mac], chaddr=bytes.fromhex(WEB.replace(":", ""))) / \
        DHCP(options=[("message-type", "offer"), ("server_id", CA[mac]), ("lease_time", 60), "end"])
    return bytes(Ether(src=mac, dst=eth_dst) / IP(src=CA[mac], dst=dst) / UDP(sport=67, dport=68) / bootp)


def icmp_redirect(mac):
    return bytes(Ether(src=mac, dst=ROUTER) / IP(src=CA[mac], dst=CA[DB]) / ICMP(type=5, code=1, gw=CA[mac]) /
                 IPerror(src=CA[DB], dst="203.0.113.9") / UDP(sport=5000, dport=53))


def icmp_router_advertisement(mac):
    """RFC 1256: type 9, one address (the VM's CA, preference 0), lifetime 1800 s."""
    body = struct.pack(">BBHBBH", 9, 0, 0, 1, 2, 1800) + ip4(CA[mac]) + struct.pack(">I", 0)
    body = body[:2] + struct.pack(">H", inet_checksum(body)) + body[4:]
    return bytes(Ether(src=mac, dst="01:00:5e:00:00:01") / IP(src=CA[mac], dst="224.0.0.1", ttl=1, proto=1) / Raw(body))


def link_local(mac):
    b = bytearray(bytes.fromhex(mac.replace(":", "")))
    b[0] ^= 2
    return "fe80::%02x%02x:%02xff:fe%02x:%02x%02x" % (b[0], b[1], b[2], b[3], b[4], b[5])


def icmpv6_ra(mac):
    return bytes(Ether(src=mac, dst="33:33:00:00:00:01") / IPv6(src=link_local(mac), dst="ff02::1", hlim=255) /
                 ICMPv6ND_RA(routerlifetime=1800))


def icmpv6_redirect(mac):
    return bytes(Ether(src=mac, dst="33:33:00:00:00:01") / IPv6(src=link_local(mac), dst="ff02::1", hlim=255) /
                 ICMPv6ND_Redirect(tgt="fe80::1", dst="fd00::77"))


guard_cases = [
    ("red-app: DHCP OFFER, UDP 67 -> 68, broadcast", server_offer(APP), "drop", "dhcp-guard"),
    ("red-app: DHCP OFFER, UDP 67 -> 68, unicast to red-web", server_offer(APP, CA[WEB], WEB), "drop", "dhcp-guard"),
    ("red-app: ICMP redirect", icmp_redirect(APP), "drop", "router-guard"),
    ("red-app: ICMP router advertisement", icmp_router_advertisement(APP), "drop", "router-guard"),
    ("red-app: ICMPv6 router advertisement", icmpv6_ra(APP), "drop", "router-guard"),
    ("red-app: ICMPv6 redirect", icmpv6_redirect(APP), "drop", "router-guard"),
    ("red-app: ordinary UDP to red-db", udp(APP, ROUTER, CA[APP], CA[DB]), "encap", None),
    ("red-web (unguarded): DHCP OFFER broadcast is flooded", server_offer(WEB), "flood", None),
    ("red-web (unguarded): ICMP redirect to red-db is sent", icmp_redirect(WEB), "encap", None),
    ("red-web (unguarded): ICMPv6 RA is no router-guard drop", icmpv6_ra(WEB), "drop", "unsupported"),
]
result = run("egress", "hv1", "guards", [c[1] for c in guard_cases])
guard_run = None
if result:
    lines, outs, err, _ = result
    guard_run = ([c[1] for c in guard_cases], lines, outs, err, [])
    g = "guards: dhcp-guard and router-guard on red-app only"
    for i, ((name, frame, verdict, reason), l) in enumerate(zip(guard_cases, lines)):
        check(g, l["verdict"] == verdict and l.get("reason") == reason and l.get("vsid") == VSID,
              "%d (%s): %s, expected %s %s" % (i + 1, name, l, verdict, reason))


# ---- 3. MAC spoofing with --port --------------------------------------------------------------
def outer_of(frame):
    """(outer DSCP, outer ECN, outer IPv4 checksum ok, VSID, inner frame) of an NVGRE frame."""
    p = Ether(frame)
    again = IP(bytes(p[IP]))
    del again.chksum
    ok = IP(bytes(again)).chksum == p[IP].chksum
    return p[IP].tos >> 2, p[IP].tos & 3, ok, p[GRE].key >> 8, Ether(bytes(p[GRE].payload))


spoof_runs = [
    ("spoof-cap", CAP, [
        ("foreign MAC, red-cap's CA", udp(FOREIGN, ROUTER, CA[CAP], CA[DB], tos=10 << 2), "encap", None),
        ("red-web's MAC, red-cap's CA", udp(WEB, ROUTER, CA[CAP], CA[DB], tos=10 << 2), "encap", None),
        ("red-cap's own MAC and CA", udp(CAP, ROUTER, CA[CAP], CA[DB], tos=10 << 2), "encap", None),
        ("foreign MAC, red-web's CA", udp(FOREIGN, ROUTER, CA[WEB], CA[DB]), "drop", "spoofed-source"),
        ("red-cap's MAC, red-app's CA", udp(CAP, ROUTER, CA[APP], CA[DB]), "drop", "spoofed-source"),
    ]),
    ("spoof-app", APP, [
        ("foreign MAC, red-app's CA", udp(FOREIGN, ROUTER, CA[APP], CA[DB]), "drop", "spoofed-source"),
        ("red-web's MAC, red-app's CA", udp(WEB, ROUTER, CA[APP], CA[DB]), "drop", "spoofed-source"),
        ("red-app's own MAC and CA", udp(APP, ROUTER, CA[APP], CA[DB], tos=10 << 2), "encap", None),
    ]),
    ("spoof-web", WEB, [
        ("red-cap's MAC, red-cap's CA, on red-web's port", udp(CAP, ROUTER, CA[CAP], CA[DB]), "drop", "spoofed-source"),
        ("red-web's own MAC and CA, 802.1Q-tagged", bytes(Ether(src=WEB, dst=DB) / Dot1Q(vlan=7) / IP(src=CA[WEB], dst=CA[DB]) /
                                                          UDP(sport=4000, dport=5000) / Raw(b"tagged")), "drop", "vlan-tagged"),
        ("red-web's own MAC and CA, inner DSCP 10", udp(WEB, ROUTER, CA[WEB], CA[DB], tos=10 << 2 | 1), "encap", None),
    ]),
]
spoof_results = []
for run_name, port, cases in spoof_runs:
    result = run("egress", "hv1", run_name, [c[1] for c in cases], ["--port", port])
    if not result:
        continue
    lines, outs, err, _ = result
    spoof_results.append(([c[1] for c in cases], lines, outs, err, [port] * len(cases)))
    g = "--port: spoofing allowed only by red-cap's classification; IP source always checked"
    gd = "outer DSCP: 46 on red-cap's encapsulated frames, the inner DSCP copied for the others"
    for i, ((name, frame, verdict, reason), l) in enumerate(zip(cases, lines)):
        tag = "%s %d (--port %s, %s)" % (run_name, i + 1, NAME[port], name)
        check(g, l["verdict"] == verdict and l.get("reason") == reason and l.get("vsid") == VSID,
              "%s: %s, expected %s %s" % (tag, l, verdict, reason))
        if l["verdict"] == "encap" and verdict == "encap" and len(l["out"]) == 1:
            dscp, ecn, ok, vsid, inner = outer_of(outs[l["out"][0] - 1])
            sent = Ether(frame)
            want_dscp = 46 if port == CAP else sent[IP].tos >> 2
            check(gd, dscp == want_dscp and ok and vsid == VSID and l["pa"] == HV2_PA,
                  "%s: outer DSCP %d (expected %d), checksum ok %s, VSID %d, pa %s" % (tag, dscp, want_dscp, ok, vsid, l["pa"]))
            check(g, inner.src == sent.src and inner[IP].src == sent[IP].src and inner.dst == DB,
                  "%s: inner %s -> %s" % (tag, inner.src, inner.dst))
            check(gd, inner[IP].tos == sent[IP].tos, "%s: the inner TOS changed: %#x" % (tag, inner[IP].tos))

gu = "--port usage: a MAC of no VM NIC of the host, a bad MAC, twice, on ingress: exit 1, one line"
empty_in = os.path.join(work, "empty.in.pcap")
write_pcap_at(empty_in, [], [])
usage = [
    ("red-db's MAC (a NIC on hv2, not hv1)", ["egress", "--port", DB], "--port"),
    ("a MAC of no NIC", ["egress", "--port=" + FOREIGN], "--port"),
    ("not a MAC", ["egress", "--port", "00:15:5d:00:00"], "--port"),
    ("given twice", ["egress", "--port", WEB, "--port", WEB], "--port"),
    ("on ingress", ["ingress", "--port", WEB], "--port"),
    ("without a value", ["egress", "--port"], "--port"),
]
for name, args, word in usage:
    r = subprocess.run([tool, args[0], "--policy", policy, "--host", "hv1"] + args[1:] +
                       ([] if name == "without a value" else [empty_in, os.path.join(work, "usage.out.pcap")]),
                       capture_output=True, text=True)
    err = r.stderr.splitlines()
    check(gu, r.returncode == 1 and len(err) == 1 and err[0].startswith("nvgre-pcap: ") and word in err[0] and not r.stdout,
          "%s: exit %d, stderr %r" % (name, r.returncode, r.stderr))
r = subprocess.run([tool, "egress", "--policy", policy, "--host", "hv1", "--port", WEB.upper(), empty_in,
                    os.path.join(work, "usage.out.pcap")], capture_output=True, text=True)
check(gu, r.returncode == 0 and not r.stderr and not r.stdout, "an upper-case MAC of hv1: exit %d, %r" % (r.returncode, r.stderr))


# ---- 4. bandwidth on capture time ---------------------------------------------------------
RATE_BPS, BURST = 1000000, 3000


def bucket_passes(sizes, usecs):
    """A token bucket of BURST bytes, full at first, refilled at RATE_BPS / 8 bytes a second;
    a frame passes when the bucket holds its bytes, and only a frame that passes takes any."""
    tokens, last, passed = float(BURST), None, []
    for size, us in zip(sizes, usecs):
        if last is not None:
            tokens = min(float(BURST), tokens + (us - last) * RATE_BPS / 8 / 1e6)
        last = us
        if tokens >= size:
            tokens -= size
            passed.append(True)
        else:
            passed.append(False)
    return passed


# 10 frames 1 ms apart, then 4 at once after a pause that refills the whole bucket.
bw_usecs = [i * 1000 for i in range(10)] + [109000] * 4
bw_frames = [udp(CAP, DB, CA[CAP], CA[DB], size=1000, sport=6000 + i) for i in range(len(bw_usecs))]
bw_expected = bucket_passes([len(f) for f in bw_frames], bw_usecs)
gb = "bandwidth: red-cap 1 Mbit/s, 3000-byte bucket, on the capture's timestamps"
check(gb, all(len(f) == 1000 for f in bw_frames), "frame sizes %s" % [len(f) for f in bw_frames])
check(gb, bw_expected == [True, True, True, False, False, False, False, False, True, False, True, True, True, False],
      "the bucket model: %s" % bw_expected)
result = run("egress", "hv1", "bandwidth", bw_frames, usecs=bw_usecs)
bw_run = None
if result:
    lines, outs, err, _ = result
    bw_run = (bw_frames, lines, outs, err, [])
    got = [l["verdict"] == "encap" for l in lines]
    check(gb, got == bw_expected, "encap for frames %s, expected %s" % ([i + 1 for i, p in enumerate(got) if p],
                                                                        [i + 1 for i, p in enumerate(bw_expected) if p]))
    for i, (l, passes) in enumerate(zip(lines, bw_expected)):
        if passes:
            ok = check(gb, l["verdict"] == "encap" and l.get("pa") == HV2_PA and len(l["out"]) == 1, "frame %d: %s" % (i + 1, l))
            if ok:
                dscp, _, cks, vsid, inner = outer_of(outs[l["out"][0] - 1])
                check(gb, dscp == 46 and cks and bytes(inner) == bw_frames[i],
                      "frame %d: outer DSCP %d, checksum %s, inner frame as sent %s" % (i + 1, dscp, cks, bytes(inner) == bw_frames[i]))
        else:
            check(gb, l == {"n": i + 1, "verdict": "drop", "reason": "rate-limited", "vsid": VSID, "out": []},
                  "frame %d: %s" % (i + 1, l))
    # Toward red-cap: red-db (hv2, uncapped) sends the same, hv1's ingress meters red-cap's bucket.
    to_cap = [udp(DB, CAP, CA[DB], CA[CAP], size=1000, sport=7000 + i) for i in range(len(bw_usecs))]
    r2 = run("egress", "hv2", "bandwidth-hv2", to_cap, usecs=bw_usecs)
    gi = "bandwidth: toward red-cap on ingress (its bucket toward the VM)"
    if r2 and check(gi, all(l["verdict"] == "encap" for l in r2[0]), "hv2 egress: %s" % r2[0]):
        fabric = [r2[1][l["out"][0] - 1] for l in r2[0]]
        r3 = run("ingress", "hv1", "bandwidth-ingress", fabric, usecs=bw_usecs)
        if r3:
            lines3, outs3, err3, _ = r3
            got = [l["verdict"] == "deliver" for l in lines3]
            check(gi, got == bw_expected, "deliver for frames %s, expected %s" % ([i + 1 for i, p in enumerate(got) if p],
                                                                                  [i + 1 for i, p in enumerate(bw_expected) if p]))
            for i, (l, passes) in enumerate(zip(lines3, bw_expected)):
                if passes and l["verdict"] == "deliver":
                    p = Ether(outs3[l["out"][0] - 1])
                    check(gi, p.dst == CAP and p[IP].dst == CA[CAP] and len(p) == 1000, "frame %d: %s" % (i + 1, p.summary()))
                    check(gi, bytes(p) == to_cap[i], "frame %d: not delivered as red-db sent it" % (i + 1))
                elif not passes:
                    check(gi, l.get("verdict") == "drop" and l.get("reason") == "rate-limited" and l.get("vsid") == VSID,
                          "frame %d: %s" % (i + 1, l))
            # stderr: red-cap's port counts the frames delivered to it (out); a port's drops are
            # those of the frames its VM sent (in), so the ones rate-limited toward it are the
            # VSID's (docs/nvgre-pcap.md). The VSID's bytes in are the frames as received.
            delivered = sum(bw_expected)
            want = "port 2 red-cap %s in 0 packets 0 bytes out %d packets %d bytes" % (CAP, delivered, delivered * 1000)
            ports = [e for e in err3 if e.startswith("port ")]
            check(gi, ports == [want], "ingress hv1 port counters %s, expected [%r]" % (ports, want))
            want = "vsid %d in %d packets %d bytes out %d packets %d bytes drops rate-limited=%d" % (
                VSID, len(fabric), sum(len(f) for f in fabric), delivered, delivered * 1000, len(fabric) - delivered)
            vsids = [e for e in err3 if e.startswith("vsid ")]
            check(gi, vsids == [want], "ingress hv1 VSID counters %s, expected [%r]" % (vsids, want))


# ---- 5. counters on stderr ----------------------------------------------------------------
def expected_counters(frames, lines, outs, port_macs, host_ports, multi_ok=False):
    """The per-port and per-VSID lines that docs/nvgre-pcap.md describes, recomputed from the
    input frames, their JSON lines and the output frames (egress: a frame's port is --port's
    or its source MAC's; its answers go back to that port)."""
    def zero():
        return {"pi": 0, "bi": 0, "po": 0, "bo": 0, "drops": {}}

    ports, vsids = {}, {}
    for i, (frame, l) in enumerate(zip(frames, lines)):
        mac = port_macs[i] if port_macs else Ether(frame).src
        out_bytes = [len(outs[k - 1]) for k in l["out"]]
        dropped = l["verdict"] == "drop" or (l["verdict"] == "reply" and "reason" in l)
        for table, key in ((ports, mac), (vsids, l.get("vsid", "other"))):
            if key not in host_ports and table is ports:
                continue
            c = table.setdefault(key, zero())
            c["pi"] += 1
            c["bi"] += len(frame)
            if dropped:
                c["drops"][l["reason"]] = c["drops"].get(l["reason"], 0) + 1
        if l["verdict"] != "drop" and l["verdict"] != "flood":
            v = vsids.setdefault(l.get("vsid", "other"), zero())
            v["po"] += 1
            v["bo"] += out_bytes[0]
        if l["verdict"] == "reply":
            c = ports[mac]
            c["po"] += 1
            c["bo"] += out_bytes[0]

    def text(c):
        s = "in %d packets %d bytes out %d packets %d bytes" % (c["pi"], c["bi"], c["po"], c["bo"])
        if c["drops"]:
            s += " drops " + " ".join("%s=%d" % kv for kv in sorted(c["drops"].items(), key=lambda kv: REASON_ORDER.index(kv[0])))
        return s

    out = ["port %d %s %s %s" % (host_ports.index(m), NAME[m], m, text(ports[m])) for m in host_ports if m in ports]
    out += ["vsid %s %s" % (v, text(vsids[v])) for v in sorted(k for k in vsids if k != "other")]
    if "other" in vsids:
        out.append("vsid other " + text(vsids["other"]))
    return out


# The drop reasons in the order the library lists them (datapath/verdict.hpp): only those used here.
REASON_ORDER = ["spoofed-source", "vlan-tagged", "unsupported", "to-router", "rate-limited", "dhcp-guard", "router-guard"]

gc = "counters on stderr: verdicts and reasons, then per port and per VSID (recomputed)"
# A port counts every frame its VM sent, dropped or not (context.hpp, traffic_counters: "for a
# port, the frames its VM sent (egress)"), also those dropped for their source MAC or a tag.
gp = "counters on stderr: a port counts all it received, also spoofed-source / vlan-tagged drops"
for name, item in [("dhcp", dhcp_run), ("bandwidth", bw_run)] + [("spoof %d" % i, s) for i, s in enumerate(spoof_results)]:
    if item is None:
        continue
    frames, lines, outs, err, port_macs = item
    verdicts = {}
    for l in lines:
        verdicts[l["verdict"]] = verdicts.get(l["verdict"], 0) + 1
    for v, n in verdicts.items():
        check(gc, "verdict %s %d" % (v, n) in err, "%s: no 'verdict %s %d' in %s" % (name, v, n, err))
    want = expected_counters(frames, lines, outs, port_macs, HV1_PORTS)
    got = [e for e in err if e.startswith("port ") or e.startswith("vsid ")]
    check(gp if name.startswith("spoof") else gc, got == want,
          "%s: stderr\n      %s\n    expected\n      %s" % (name, "\n      ".join(got), "\n      ".join(want)))
if bw_run:
    # The documented example: red-cap's line after the bandwidth run.
    passed = sum(bw_expected)
    line = "port 2 red-cap %s in %d packets %d bytes out 0 packets 0 bytes drops rate-limited=%d" % (
        CAP, len(bw_frames), 1000 * len(bw_frames), len(bw_frames) - passed)
    check(gc, line in bw_run[3], "bandwidth: no %r in %s" % (line, bw_run[3]))
if guard_run:
    # Flood copies make the VSID's bytes out the sink's business: the ports only.
    frames, lines, outs, err, _ = guard_run
    want = [w for w in expected_counters(frames, lines, outs, [], HV1_PORTS) if w.startswith("port ")]
    got = [e for e in err if e.startswith("port ")]
    check(gc, got == want, "guards: stderr %s, expected %s" % (got, want))

sys.exit(1 if check.report("dhcp_cli") else 0)
