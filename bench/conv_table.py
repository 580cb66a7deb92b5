"""Markdown tables from `convlab bench conv --format json` runs, as docs/BENCHMARKS.md shows them.

    python3 bench/conv_table.py run1.json run2.json run3.json

For each problem and algorithm: the median over the runs of each run's median ms, with its
GFLOP/s and share of the measured peak, the fastest marked in bold per problem and direction;
the workspace (the largest over the runs) and the worst relative error against the f64 reference.
"""
import json
import statistics
import sys
from collections import defaultdict

runs = [[json.loads(line) for line in open(path)] for path in sys.argv[1:]]
cells = defaultdict(list)
for run in runs:
    for r in run:
        cells[(r["problem"], r["algorithm"], r["direction"])].append(r)

problems = list(dict.fromkeys(r["problem"] for r in runs[0]))
algorithms = list(dict.fromkeys(r["algorithm"] for r in runs[0]))


def median(key):
    rows = cells.get(key)
    if not rows:
        return None
    return {
        "ms": statistics.median(r["median_ms"] for r in rows),
        "gflops": statistics.median(r["gflops"] for r in rows),
        "peak": statistics.median(r["peak_share"] for r in rows),
        "workspace": max(r["workspace_bytes"] for r in rows),
        "err": max(r["max_rel_err"] for r in rows),
    }


def size(b):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= scale:
            return f"{b / scale:.1f} {unit}"
    return f"{b} B"


directions = ["fwd", "bwd_weights", "bwd"]
print("| problem | algorithm | fwd ms (GFLOP/s, peak) | bwd_weights ms | bwd ms (GFLOP/s, peak) | workspace fwd / bwd | max rel err |")
print("|---|---|---|---|---|---|---|")
for p in problems:
    best = {}
    for d in directions:
        times = [median((p, a, d))["ms"] for a in algorithms if median((p, a, d))]
        best[d] = min(times) if times else None
    for a in algorithms:
        f, w, b = (median((p, a, d)) for d in directions)
        if not f:
            continue

        def ms(m, d, full):
            if not m:
                return "-"
            text = f"{m['ms']:.3f}"
            if full:
                text += f" ({m['gflops']:.0f}, {100 * m['peak']:.0f}%)"
            return f"**{text}**" if m["ms"] == best[d] else text

        ws = f"{size(f['workspace'])} / {size(b['workspace'])}" if b else size(f["workspace"])
        err = max(m["err"] for m in (f, w, b) if m)
        print(f"| {p} | {a} | {ms(f, 'fwd', True)} | {ms(w, 'bwd_weights', False)} | {ms(b, 'bwd', True)} | {ws} | {err:.1e} |")
