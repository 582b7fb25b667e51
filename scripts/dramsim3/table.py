#!/usr/bin/env python3
"""Markdown table of the DRAMsim3 comparison: reads WORK_DIR/<pattern>.{ds3,sc}.json.

Bandwidth on both sides is the same formula: bytes of every trace line (64 B each) over the
time from cycle 0 to the last read's data (writes are posted in DRAMsim3).
"""
import json
import sys

DESCRIPTIONS = {
    "stream": "sequential 64 B reads",
    "random": "random 64 B reads",
    "random-rw": "random 64 B, 1/3 writes",
    "random256": "random 256 B rows (4 lines each)",
    "streams8": "8 interleaved streams, same bank",
    "random-half": "random 64 B reads at half load",
    "stream-rw": "copy: read stream + write stream",
}


def gbps(r):
    return r["lines"] * 64 / (r["last_read_done"] * r["tck_ns"])


def main():
    work, patterns = sys.argv[1], sys.argv[2:]
    print("| trace | DRAMsim3 GB/s | seedchip GB/s | difference | DRAMsim3 mean read latency (ns) "
          "| seedchip mean read latency (ns) | DRAMsim3 wall (s) | seedchip wall (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    for p in patterns:
        d = json.load(open(f"{work}/{p}.ds3.json"))
        s = json.load(open(f"{work}/{p}.sc.json"))
        assert d["lines"] == s["lines"] and d["reads"] == s["reads"], p
        bd, bs = gbps(d), gbps(s)
        diff = (bs - bd) / bd
        worst = max(worst, abs(diff))
        print(f"| `{p}` ({DESCRIPTIONS.get(p, p)}) | {bd:.1f} | {bs:.1f} | {100 * diff:+.1f} % "
              f"| {d['read_latency_mean'] * d['tck_ns']:.0f} | {s['read_latency_mean'] * s['tck_ns']:.0f} "
              f"| {d['wall_s']:.2f} | {s['wall_s']:.3f} |")
    print()
    print(f"Largest bandwidth difference: {100 * worst:.1f} %.")


if __name__ == "__main__":
    main()
