#!/usr/bin/python3
"""Prints the nvgre-bench table from its JSON output (make bench runs it).

    scripts/bench_table.py build/bench/nvgre-bench.json [--markdown] [--instructions FILE]

One row per headline benchmark of issue 6 and the performance targets: time per item
(ns per packet or lookup) or GB/s (10^9 bytes/s) for checksums, millions of items per second,
the ratios to the floor and to the peer as *time ratios* (ours / theirs: 0.25x = ours takes a
quarter of the time, i.e. is 4x faster; for the floor, how many floors ours costs), and the
target (docs/performance.md) with whether this run meets it. With --repetitions the medians are used.
--instructions FILE (build/bench/instructions.json of scripts/instructions.py, which make bench
runs after the timed run) fills the instr/pkt column of the rows callgrind measured.
Standard library only.
"""
import json
import platform
import re
import sys

# (name, target kind, target value, floor, peer, note). Target kinds: "ns" = at most that many
# ns per item, "GBps" = at least that many GB/s, "Mps" = at least that many million items/s.
FLOOR = "floor/encap/ipv4/64B"
NAIVE = "peer/naive/encap/ipv4/64B/1M/uniform"
UMAP = "peer/std_unordered_map/lookup/1M/uniform"
FLAT = "peer/boost_flat_map/lookup/1M/uniform"
ROWS = [
    ("Per packet: 1 core, bursts of 32, frames in memory", None),
    ("encap/ipv4/64B/1M/uniform", ("ns", 10), FLOOR, NAIVE),
    ("encap/ipv4/64B/1M/skewed", ("ns", 10), FLOOR, NAIVE),
    ("encap/ipv4/64B/64K/uniform", None, FLOOR, NAIVE),
    ("encap/ipv4/64B/1K/uniform", ("ns", 4), FLOOR, NAIVE),
    ("encap/ipv6/64B/1M/uniform", None, FLOOR, NAIVE),
    ("encap/ipv4/1500B/1M/uniform", None, FLOOR, NAIVE),
    ("decap/ipv4/64B/1M/uniform", ("ns", 10), None, None),
    ("decap/ipv4/64B/1M/skewed", ("ns", 10), None, None),
    ("decap/ipv4/64B/1K/uniform", ("ns", 4), None, None),
    ("egress/ipv4/64B/1M/uniform", ("ns", 15), FLOOR, NAIVE),
    ("egress/ipv4/64B/1M/skewed", ("ns", 15), FLOOR, NAIVE),
    ("egress/ipv4/64B/1K/uniform", ("ns", 6), FLOOR, NAIVE),
    ("ingress/ipv4/64B/1M/uniform", None, None, None),
    ("ingress/ipv4/64B/1M/skewed", None, None, None),
    (FLOOR, None, None, None),
    (NAIVE, None, None, None),
    ("Checksums: data in L1/L2", None),
    ("checksum/64B", None, None, "peer/dpdk/checksum/64B"),
    ("checksum/1500B", ("GBps", 25), None, "peer/dpdk/checksum/1500B"),
    ("checksum/9000B", ("GBps", 50), None, "peer/dpdk/checksum/9000B"),
    ("checksum/ipv4-header", ("ns", 1.5), None, "peer/dpdk/checksum/ipv4-header"),
    ("checksum/incremental", ("ns", 0.5), None, None),
    ("peer/dpdk/checksum/1500B", None, None, None),
    ("peer/dpdk/checksum/ipv4-header", None, None, None),
    ("peer/dpdk-novec/checksum/1500B", None, None, None),
    ("peer/dpdk-novec/checksum/ipv4-header", None, None, None),
    ("CA table lookups: (scope, IPv4 CA) -> record", None),
    ("lookup/1M/uniform", ("ns", 10), None, UMAP),
    ("lookup/1M/uniform/single", None, None, UMAP),
    ("lookup/64K/uniform", None, None, None),
    ("lookup/16K/uniform", ("ns", 3), None, None),
    ("lookup/1M/uniform/no_huge_pages", None, None, UMAP),
    (UMAP, None, None, None),
    (FLAT, None, None, None),
    ("Longest-prefix match, policy updates", None),
    ("lpm/ipv4/100K", ("ns", 5), None, None),
    ("lpm/ipv6/100K", ("ns", 12), None, None),
    ("update/records", ("Mps", 5), None, None),
    ("IP rewrite (vs peer: encap through the same egress), segmentation, checksum completion", None),
    ("rewrite/ipv4/64B/1M/uniform", None, FLOOR, "rewrite/baseline/encap/ipv4/64B/1M/uniform"),
    ("rewrite/ipv4/64B/1K/uniform", None, FLOOR, "rewrite/baseline/encap/ipv4/64B/1K/uniform"),
    ("rewrite/baseline/encap/ipv4/64B/1M/uniform", None, FLOOR, None),
    ("rewrite/step/ipv4/64B/1M/uniform", None, FLOOR, "encap/ipv4/64B/1M/uniform"),
    ("rewrite/ingress/ipv4/64B/1M/uniform", None, None, None),
    ("gso/ipv4/64KB", None, None, "peer/naive/gso/ipv4/64KB"),
    ("gso/ipv4/64KB/gather", None, None, "peer/naive/gso/ipv4/64KB"),
    ("peer/naive/gso/ipv4/64KB", None, None, None),
    ("checksum-complete/1500B", None, None, "peer/naive/checksum-complete/1500B"),
    ("peer/naive/checksum-complete/1500B", None, None, None),
]


# The rows scripts/instructions.py measures, by their key in instructions.json.
INSTRUCTION_ROWS = {
    "encap/ipv4/64B/1K/uniform": "encap",
    "decap/ipv4/64B/1K/uniform": "decap",
    "egress/ipv4/64B/1K/uniform": "egress",
    "ingress/ipv4/64B/1K/uniform": "ingress",
}


def load(path):
    with open(path) as f:
        data = json.load(f)
    runs, medians = {}, {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            runs.setdefault(b.get("run_name", b["name"]), {"error": b.get("error_message", "error")})
            continue
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[b["run_name"]] = b
        else:
            runs.setdefault(b.get("run_name", b["name"]), b)
    runs.update(medians)
    return data.get("context", {}), runs


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown CPU"
    def field(key):
        m = re.search(r"^" + key + r"\s*:\s*(.*)$", info, re.M)
        return m.group(1).strip() if m else "?"
    return "%s (family %s, model %s)" % (field("model name"), field("cpu family"), field("model"))


UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def ns_per_item(b):
    """ns per item, from items_per_second (a rate over the time the benchmark reports); for the
    byte-counting benchmarks (checksums), ns per call."""
    if "changes_per_s" in b:
        return 1e9 / b["changes_per_s"]
    if b.get("items_per_second"):
        return 1e9 / b["items_per_second"]
    return b["cpu_time"] * UNIT_NS.get(b.get("time_unit", "ns"), 1.0)


def fmt_ratio(ours, theirs):
    if ours is None or theirs is None:
        return ""
    r = ours / theirs
    return ("%.2fx" if r < 10 else "%.1fx") % r


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    context, runs = load(argv[1])
    md = "--markdown" in argv[2:]
    instructions = {}
    if "--instructions" in argv[2:]:
        at = argv.index("--instructions")
        if at + 1 >= len(argv):
            print("bench_table.py: --instructions needs a file", file=sys.stderr)
            return 2
        try:
            with open(argv[at + 1]) as f:
                instructions = json.load(f)
        except (OSError, ValueError) as e:
            print("bench_table.py: %s: %s (the instr/pkt column stays empty)" % (argv[at + 1], e), file=sys.stderr)

    def time_of(name):
        b = runs.get(name)
        if b is None or "error" in b:
            return None
        return ns_per_item(b)

    header = ["benchmark", "ns/item", "instr/pkt", "GB/s", "M/s", "vs floor", "vs peer", "target", "met"]
    table = []
    for row in ROWS:
        if row[1] is None and len(row) == 2:
            table.append(("section", row[0]))
            continue
        name, target, floor, peer = row
        b = runs.get(name)
        if b is None:
            table.append(("text", "%s: not run" % name))
            continue
        if "error" in b:
            table.append(("text", "%s: skipped (%s)" % (name, b["error"])))
            continue
        ns = ns_per_item(b)
        gbps = b["bytes_per_second"] / 1e9 if b.get("bytes_per_second") else None
        rate = (b.get("changes_per_s") or b.get("items_per_second") or 0) / 1e6
        t_ours = time_of(name)
        key = INSTRUCTION_ROWS.get(name)
        cells = [
            name,
            "%.2f" % ns,
            str(instructions[key]) if key in instructions else "",
            "%.1f" % gbps if gbps is not None else "",
            "%.1f" % rate if rate else "",
            fmt_ratio(t_ours, time_of(floor)) if floor else "",
            fmt_ratio(t_ours, time_of(peer)) if peer else "",
        ]
        if target is None:
            cells += ["", ""]
        else:
            kind, value = target
            if kind == "ns":
                ok = ns is not None and ns <= value
                cells += ["<= %g ns" % value, "yes" if ok else "no"]
            elif kind == "GBps":
                ok = gbps is not None and gbps >= value
                cells += [">= %g GB/s" % value, "yes" if ok else "no"]
            else:
                ok = rate >= value
                cells += [">= %g M/s" % value, "yes" if ok else "no"]
        table.append(("row", cells))

    widths = [len(h) for h in header]
    for kind, cells in table:
        if kind == "row":
            widths = [max(w, len(c)) for w, c in zip(widths, cells)]

    date = context.get("date", "?")
    load_avg = context.get("load_avg")
    print()
    print("nvgre-bench, %s, %s, %s CPUs%s" % (date, cpu_model(), context.get("num_cpus", "?"),
                                             ", load %.2f" % load_avg[0] if load_avg else ""))
    print("ns/item: per packet, lookup, header or change; GB/s = 10^9 bytes/s; M/s = million items/s;")
    print("vs floor / vs peer: time ratio ours/theirs (0.25x = 4x faster); floor = %s;" % FLOOR)
    print("instr/pkt: instructions per packet under callgrind (make instructions; 1K-record rows only);")
    print("peers: encap/egress %s, checksums DPDK's rte_raw_cksum / rte_ipv4_cksum, lookups %s;" % (NAIVE, UMAP))
    print("rewrite: the same egress pipeline encapsulating instead (rewrite/step: encap/ipv4/64B/1M/uniform, both the")
    print("step alone after batched lookups); gso, checksum-complete: their naive versions")
    print()
    if md:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
        for kind, cells in table:
            if kind == "section":
                print("| **%s** |" % cells + " |" * (len(header) - 1))
            elif kind == "text":
                print("| %s |" % cells + " |" * (len(header) - 1))
            else:
                print("| " + " | ".join(c if c else " " for c in cells) + " |")
    else:
        line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
        print(line)
        print("-" * len(line))
        for kind, cells in table:
            if kind == "section":
                print(cells)
            elif kind == "text":
                print(cells)
            else:
                print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
