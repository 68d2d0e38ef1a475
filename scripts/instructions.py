#!/usr/bin/python3
"""Instructions per packet of the pipeline rows at 1K records (egress also with every port classified), under valgrind's callgrind.

  instructions.py NVGRE_BENCH OUT_DIR

Runs each row of nvgre-bench alone under `valgrind --tool=callgrind --collect-atstart=no`; the
benchmark switches collection on only around the pipeline call of its timed loop
(bench/instructions.hpp: not the per-burst reset, not Google Benchmark's bookkeeping) and
reports at exit how many packets those sections handled. Instructions per packet = the
instructions collected / those packets. Prints a table and writes OUT_DIR/instructions.json,
{"encap": N, "decap": N, "egress": N, "egress-classified": N, "ingress": N}. Instruction counts do not depend on the
machine's load, unlike the timings of `make bench`.
"""
import json
import os
import re
import shutil
import subprocess
import sys

ROWS = [
    ("encap", "encap/ipv4/64B/1K/uniform"),
    ("decap", "decap/ipv4/64B/1K/uniform"),
    ("egress", "egress/ipv4/64B/1K/uniform"),
    ("egress-classified", "egress/ipv4/64B/1K/uniform/classified"),
    ("ingress", "ingress/ipv4/64B/1K/uniform"),
]


def collected(path):
    """The total of a callgrind output file (its `summary:` or `totals:` line)."""
    total = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    return total


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    bench, out_dir = sys.argv[1:]
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("instructions.py: valgrind is not installed (scripts/deps.sh bench installs it)", file=sys.stderr)
        return 1
    os.makedirs(out_dir, exist_ok=True)
    result = {}
    print("%-8s %-30s %14s %10s %12s" % ("path", "benchmark", "instructions", "packets", "per packet"))
    for key, row in ROWS:
        out = os.path.join(out_dir, "callgrind.%s.out" % key)
        r = subprocess.run([valgrind, "--tool=callgrind", "--collect-atstart=no", "--callgrind-out-file=" + out,
                            bench, "--benchmark_filter=^%s$" % re.escape(row), "--benchmark_min_time=0.05"],
                           capture_output=True, text=True)
        m = re.search(r"nvgre-bench: measured packets: (\d+)", r.stderr)
        total = collected(out) if os.path.exists(out) else None
        if r.returncode != 0 or m is None or total is None or int(m.group(1)) == 0:
            print("instructions.py: %s: no measurement (exit %d): %s" % (row, r.returncode, r.stderr.strip()[-300:]),
                  file=sys.stderr)
            return 1
        packets = int(m.group(1))
        result[key] = round(total / packets)
        print("%-8s %-30s %14d %10d %12d" % (key, row, total, packets, result[key]))
    path = os.path.join(out_dir, "instructions.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f)
        f.write("\n")
    print("written: %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
