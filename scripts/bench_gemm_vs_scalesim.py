#!/usr/bin/env python3
"""Speed of `seedchip gemm` / `seedchip scalesim` against SCALE-Sim v3, measured in one run.

For each GEMM: SCALE-Sim (PyPI scalesim==3.0.0, numpy < 2) is timed in-process through its
Python API with traces off (its fastest mode; the import is not counted), and the seedchip
release binary is timed as a whole process (start-up included), best of several runs, for
`seedchip gemm --json` and for `seedchip scalesim` writing its report files. The compute cycles
of both tools are checked to be equal. Prints a Markdown table and the aggregate ratio.

  CARGO_TARGET_DIR=target cargo build --release -p seedchip-cli
  /tmp/ss/bin/python scripts/bench_gemm_vs_scalesim.py --seedchip target/release/seedchip
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scalesim_oracle as oracle  # noqa: E402  (config template and SCALE-Sim runner)

# (name, M, K, N, dataflow, rows, cols): DLRM-v2 layers at serving batches, mid-size arrays.
GEMMS = [
    ("bot1_b512", 512, 13, 512, "ws", 32, 32),
    ("bot2_b64", 64, 512, 256, "os", 32, 32),
    ("bot3_b512", 512, 256, 128, "is", 32, 32),
    ("dcn_u_b64", 64, 3456, 512, "os", 64, 64),
    ("dcn_v_b64", 64, 512, 3456, "is", 64, 64),
    ("top1_b64", 64, 3456, 1024, "os", 128, 128),
    ("top2_b64", 64, 1024, 1024, "ws", 64, 64),
    ("top3_b512", 512, 1024, 512, "os", 128, 128),
    ("top4_b512", 512, 512, 256, "ws", 128, 128),
    ("top5_b2048", 2048, 256, 1, "is", 64, 64),
    ("top2_b512", 512, 1024, 1024, "is", 128, 128),
    ("dcn_u_b512", 512, 3456, 512, "ws", 128, 128),
]


def best_of(cmd, runs):
    best = float("inf")
    out = None
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {p.stderr}")
        best = min(best, dt)
        out = p.stdout
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seedchip", default="target/release/seedchip")
    ap.add_argument("--runs", type=int, default=20, help="seedchip runs per GEMM (best kept)")
    ap.add_argument("--only", help="run only GEMMs whose name contains this")
    args = ap.parse_args()
    exe = str(Path(args.seedchip).resolve())
    if not os.access(exe, os.X_OK):
        sys.exit(f"no seedchip binary at {exe}: build it with cargo build --release -p seedchip-cli")
    oracle.check_environment()
    from scalesim.scale_sim import scalesim  # noqa: F401  (import outside the timed region)

    gemms = [g for g in GEMMS if not args.only or args.only in g[0]]
    rows = []
    tot_ss = tot_gemm = tot_cmd = 0.0
    for name, m, k, n, df, r, c in gemms:
        cfg = oracle.config_text(name, df, r, c, "big")
        topo = oracle.GEMM_HEADER + f"{name}, {m}, {n}, {k},\n"
        t0 = time.perf_counter()
        compute, _ = oracle.run_scalesim(cfg, topo, gemm=True)
        t_ss = time.perf_counter() - t0
        ss_cycles = int(oracle.report_fields(compute)[1])

        t_gemm, out = best_of(
            [exe, "gemm", "--array", f"{r}x{c}", "--dataflow", df,
             "--m", str(m), "--k", str(k), "--n", str(n), "--json"],
            args.runs,
        )
        ours = json.loads(out)["compute_cycles"]
        if ours != ss_cycles:
            sys.exit(f"{name}: seedchip {ours} cycles, SCALE-Sim {ss_cycles}")
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "run.cfg").write_text(cfg)
            (Path(tmp) / "topo.csv").write_text(topo)
            t_cmd, _ = best_of(
                [exe, "scalesim", "-c", f"{tmp}/run.cfg", "-t", f"{tmp}/topo.csv", "--gemm",
                 "-o", f"{tmp}/out"],
                args.runs,
            )
            theirs = compute
            mine = (Path(tmp) / "out" / "COMPUTE_REPORT.csv").read_text()
            if mine != theirs:
                sys.exit(f"{name}: COMPUTE_REPORT.csv differs:\n{mine}\nvs SCALE-Sim\n{theirs}")
        tot_ss += t_ss
        tot_gemm += t_gemm
        tot_cmd += t_cmd
        rows.append((name, df, f"{r}x{c}", m, k, n, ss_cycles, t_ss, t_gemm, t_cmd))
        print(f"  {name}: {ss_cycles} cycles, SCALE-Sim {t_ss:.2f} s, seedchip gemm "
              f"{t_gemm * 1e3:.2f} ms, scalesim {t_cmd * 1e3:.2f} ms", file=sys.stderr)

    print("| GEMM | dataflow | array | M | K | N | cycles | SCALE-Sim s | `seedchip gemm` ms "
          "| ratio | `seedchip scalesim` ms | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, df, arr, m, k, n, cyc, t_ss, t_gemm, t_cmd in rows:
        print(f"| {name} | {df} | {arr} | {m} | {k} | {n} | {cyc} | {t_ss:.2f} | "
              f"{t_gemm * 1e3:.2f} | {t_ss / t_gemm:,.0f}x | {t_cmd * 1e3:.2f} | "
              f"{t_ss / t_cmd:,.0f}x |")
    print(f"| **total** ({len(rows)} GEMMs) | | | | | | | {tot_ss:.1f} | {tot_gemm * 1e3:.1f} | "
          f"**{tot_ss / tot_gemm:,.0f}x** | {tot_cmd * 1e3:.1f} | **{tot_ss / tot_cmd:,.0f}x** |")
    print(f"\ncpu: {os.cpu_count()} cores; seedchip timed as a whole process (best of "
          f"{args.runs}); SCALE-Sim in-process, traces off.")


if __name__ == "__main__":
    main()
