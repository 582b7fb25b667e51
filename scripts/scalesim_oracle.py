#!/usr/bin/env python3
"""SCALE-Sim v3 as the oracle for seedchip's systolic timing.

Runs SCALE-Sim (PyPI `scalesim==3.0.0`, with numpy < 2) on a table of dense GEMMs -- DLRM-v2's
bottom MLP, DCN-v2 low-rank cross layers and top MLP at batches 1, 64, 512 and 2048, plus
shapes that exercise partial folds -- on arrays from 8x8 to 256x256 (square and not), with all
three dataflows, and records every column of its COMPUTE_REPORT.csv and BANDWIDTH_REPORT.csv as
SCALE-Sim printed them. Also records two multi-layer runs (a GEMM topology and a conv topology)
as the inputs and verbatim report files that `seedchip scalesim` is tested against.

Outputs (committed; `cargo test` reads them and never runs Python):
  crates/timing/tests/data/scalesim_v3_cases.csv
  crates/timing/tests/data/scalesim/<fixture>.cfg, <fixture>.csv,
      <fixture>.COMPUTE_REPORT.csv, <fixture>.BANDWIDTH_REPORT.csv

Set-up (outside the repository):
  python3 -m venv /tmp/ss && /tmp/ss/bin/pip install 'scalesim==3.0.0' 'numpy<2' 'pandas<2.3'
Run (about 10 minutes on 2 cores):
  /tmp/ss/bin/python scripts/scalesim_oracle.py [--jobs 2] [--only SUBSTRING] [--dry-run]
"""

import argparse
import csv
import importlib.metadata
import io
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "crates" / "timing" / "tests" / "data"
CASES_CSV = DATA / "scalesim_v3_cases.csv"
FIXTURES = DATA / "scalesim"

# DLRM-v2 (MLPerf) dense layers as (name, K = in features, N = out features): bottom MLP
# 13-512-256-128, DCN-v2 cross layers with low rank 512 on the 3456-wide interaction vector
# (U: 3456 -> 512, V: 512 -> 3456), top MLP 3456-1024-1024-512-256-1.
DLRM_V2 = [
    ("bot1", 13, 512),
    ("bot2", 512, 256),
    ("bot3", 256, 128),
    ("dcn_u", 3456, 512),
    ("dcn_v", 512, 3456),
    ("top1", 3456, 1024),
    ("top2", 1024, 1024),
    ("top3", 1024, 512),
    ("top4", 512, 256),
    ("top5", 256, 1),
]
LAYER = {name: (k, n) for name, k, n in DLRM_V2}

# SRAM sizes in kB (ifmap, filter, ofmap). "big" is SCALE-Sim's google.cfg; "small" makes its
# read buffers evict and its OFMAP buffer drain during the run.
SRAM = {"big": (6144, 6144, 2048), "mid": (512, 512, 256), "small": (64, 64, 32)}

# (layer or custom name, batch M, dataflow, rows, cols, sram). Custom shapes give K and N in
# the name as "kKnN".
CASES = [
    # batch 1: GEMV-like; folds over K and N dominate.
    ("bot1", 1, "ws", 8, 8, "big"),
    ("bot2", 1, "os", 8, 8, "big"),
    ("bot3", 1, "is", 16, 16, "big"),
    ("dcn_u", 1, "os", 32, 32, "big"),
    ("dcn_v", 1, "is", 32, 32, "big"),
    ("top1", 1, "os", 64, 64, "mid"),
    ("top1", 1, "ws", 256, 256, "big"),
    ("top2", 1, "is", 128, 128, "big"),
    ("top3", 1, "ws", 64, 128, "big"),
    ("top4", 1, "os", 16, 64, "small"),
    ("top5", 1, "ws", 8, 32, "big"),
    ("top5", 1, "is", 64, 16, "big"),
    # batch 64
    ("bot1", 64, "os", 8, 8, "big"),
    ("bot2", 64, "ws", 16, 16, "mid"),
    ("bot3", 64, "is", 32, 32, "big"),
    ("dcn_u", 64, "ws", 128, 128, "big"),
    ("dcn_u", 64, "os", 128, 64, "small"),
    ("dcn_v", 64, "is", 128, 128, "big"),
    ("dcn_v", 64, "os", 64, 64, "mid"),
    ("top1", 64, "os", 128, 128, "big"),
    ("top2", 64, "ws", 128, 128, "mid"),
    ("top3", 64, "is", 64, 64, "big"),
    ("top4", 64, "os", 32, 32, "big"),
    ("top5", 64, "ws", 32, 8, "big"),
    ("top5", 64, "is", 16, 16, "small"),
    # batch 512
    ("bot1", 512, "ws", 64, 64, "big"),
    ("bot2", 512, "os", 128, 128, "big"),
    ("bot3", 512, "is", 64, 64, "small"),
    ("dcn_u", 512, "os", 256, 256, "big"),
    ("dcn_v", 512, "is", 256, 256, "big"),
    ("top1", 512, "ws", 256, 256, "big"),
    ("top2", 512, "os", 256, 128, "big"),
    ("top3", 512, "ws", 128, 128, "small"),
    ("top4", 512, "is", 128, 32, "big"),
    ("top5", 512, "os", 32, 32, "big"),
    ("top5", 512, "ws", 16, 16, "mid"),
    # batch 2048: big GEMMs on big arrays.
    ("bot1", 2048, "ws", 256, 256, "big"),
    ("bot2", 2048, "os", 256, 256, "big"),
    ("bot3", 2048, "is", 128, 128, "big"),
    ("dcn_u", 2048, "os", 256, 256, "big"),
    ("dcn_v", 2048, "is", 256, 256, "mid"),
    ("top2", 2048, "os", 256, 256, "big"),
    ("top3", 2048, "ws", 256, 256, "big"),
    ("top4", 2048, "os", 256, 256, "small"),
    ("top5", 2048, "is", 256, 256, "big"),
    ("top5", 2048, "ws", 128, 64, "big"),
    # Partial folds in both directions, tiny and odd shapes, extreme aspect ratios.
    ("k37n23", 19, "ws", 8, 8, "small"),
    ("k37n23", 19, "os", 8, 8, "small"),
    ("k37n23", 19, "is", 8, 8, "small"),
    ("k1n1", 1, "ws", 8, 8, "big"),
    ("k1n1", 1, "os", 256, 256, "big"),
    ("k1n1", 1, "is", 16, 8, "big"),
    ("k300n70", 45, "os", 32, 16, "small"),
    ("k300n70", 45, "is", 16, 32, "small"),
    ("k300n70", 45, "ws", 24, 40, "small"),
    ("k1000n9", 7, "ws", 8, 256, "small"),
    ("k9n1000", 7, "is", 256, 8, "small"),
    ("k64n64", 300, "os", 64, 8, "small"),
    ("k2000n300", 100, "os", 32, 32, "small"),
    ("k2000n300", 100, "ws", 32, 32, "small"),
    ("k2000n300", 100, "is", 32, 32, "small"),
    ("k200n2000", 50, "os", 64, 64, "small"),
]


def shape(name, batch):
    """(M, K, N) of a case."""
    if name in LAYER:
        k, n = LAYER[name]
    else:
        k, n = (int(x) for x in name[1:].split("n"))
    return batch, k, n


def est_cycles(df, r, c, m, k, n):
    """A budget estimate only (folds x cycles per fold), to keep each run short."""
    sr, sc, t = {"ws": (k, n, m), "os": (m, n, k), "is": (k, m, n)}[df]
    folds = -(-sr // r) * -(-sc // c)
    return folds * ((r + c + t - 2) if df == "os" else (2 * r + c + t - 2))


def est_seconds(df, r, c, m, k, n):
    """SCALE-Sim loops over every port of every cycle in Python: ~2 us per port-cycle here."""
    return 1.0 + 2.2e-6 * est_cycles(df, r, c, m, k, n) * (r + 2 * c)


def config_text(run_name, df, rows, cols, sram):
    ifmap, filt, ofmap = SRAM[sram]
    return f"""[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:    {ifmap}
FilterSramSzkB:   {filt}
OfmapSramSzkB:    {ofmap}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {df}
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


GEMM_HEADER = "Layer, M, N, K,\n"
CONV_HEADER = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
    "Num Filter, Strides,\n"
)
LAYOUT_HEADER = CONV_HEADER  # SCALE-Sim needs a layout file even when it does not use one


def run_scalesim(cfg_text, topo_text, gemm):
    """Runs SCALE-Sim in-process (traces off) and returns its two report files as text."""
    from scalesim.scale_sim import scalesim

    with tempfile.TemporaryDirectory(prefix="ssoracle-") as tmp:
        tmp = Path(tmp)
        (tmp / "run.cfg").write_text(cfg_text)
        (tmp / "topo.csv").write_text(topo_text)
        (tmp / "layout.csv").write_text(LAYOUT_HEADER)
        out = tmp / "out"
        with redirect_stdout(io.StringIO()):
            s = scalesim(
                save_disk_space=True,
                verbose=False,
                config=str(tmp / "run.cfg"),
                topology=str(tmp / "topo.csv"),
                layout=str(tmp / "layout.csv"),
                input_type_gemm=gemm,
            )
            s.run_scale(top_path=str(out))
        run_name = next(out.iterdir())
        return (
            (run_name / "COMPUTE_REPORT.csv").read_text(),
            (run_name / "BANDWIDTH_REPORT.csv").read_text(),
        )


def report_fields(text):
    """The first data row of a SCALE-Sim report, as the strings it printed."""
    lines = text.splitlines()
    return [f.strip() for f in lines[1].rstrip(",").split(",")][1:]


def run_case(case):
    idx, (name, batch, df, rows, cols, sram) = case
    m, k, n = shape(name, batch)
    cfg = config_text(f"case{idx}", df, rows, cols, sram)
    topo = GEMM_HEADER + f"{name}_b{batch}, {m}, {n}, {k},\n"
    t0 = time.perf_counter()
    compute, bandwidth = run_scalesim(cfg, topo, gemm=True)
    secs = time.perf_counter() - t0
    row = {
        "case": idx,
        "workload": f"{name}_b{batch}",
        "dataflow": df,
        "rows": rows,
        "cols": cols,
        "ifmap_sram_kb": SRAM[sram][0],
        "filter_sram_kb": SRAM[sram][1],
        "ofmap_sram_kb": SRAM[sram][2],
        "m": m,
        "k": k,
        "n": n,
    }
    for key, v in zip(COMPUTE_COLS, report_fields(compute)):
        row[key] = v
    for key, v in zip(BANDWIDTH_COLS, report_fields(bandwidth)):
        row[key] = v
    row["scalesim_seconds"] = f"{secs:.2f}"
    return row


COMPUTE_COLS = [
    "total_cycles_incl_prefetch",
    "total_cycles",
    "stall_cycles",
    "overall_util_pct",
    "mapping_efficiency_pct",
    "compute_util_pct",
]
BANDWIDTH_COLS = [
    "avg_ifmap_sram_bw",
    "avg_filter_sram_bw",
    "avg_ofmap_sram_bw",
    "avg_ifmap_dram_bw",
    "avg_filter_dram_bw",
    "avg_ofmap_dram_bw",
]
HEADER = (
    ["case", "workload", "dataflow", "rows", "cols"]
    + ["ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb", "m", "k", "n"]
    + COMPUTE_COLS
    + BANDWIDTH_COLS
    + ["scalesim_seconds"]
)

# Multi-layer fixtures for `seedchip scalesim`: (name, gemm form?, dataflow, rows, cols, sram,
# topology rows).
FIXTURE_RUNS = [
    (
        "dlrm_v2_b64_os_128x128",
        True,
        "os",
        128,
        128,
        "big",
        [f"{name}, 64, {n}, {k}," for name, k, n in DLRM_V2],
    ),
    (
        "convs_ws_16x16",
        False,
        "ws",
        16,
        16,
        "small",
        [
            # 3x3 stride 1 (overlapping windows), 5x5 stride 2 (windows over the edge),
            # 1x1 (a plain GEMM), 2x2 stride 3 (gaps), a depthwise layer (one run per channel).
            "conv3x3, 18, 18, 3, 3, 3, 16, 1,",
            "conv5x5_s2, 20, 20, 5, 5, 4, 8, 2,",
            "conv1x1, 8, 8, 1, 1, 32, 24, 1,",
            "conv2x2_s3, 14, 14, 2, 2, 6, 12, 3,",
            "CB_DP, 10, 10, 3, 3, 3, 1, 1,",
        ],
    ),
]


def run_fixture(fx):
    name, gemm, df, rows, cols, sram, lines = fx
    cfg = config_text(name, df, rows, cols, sram)
    topo = (GEMM_HEADER if gemm else CONV_HEADER) + "".join(l + "\n" for l in lines)
    compute, bandwidth = run_scalesim(cfg, topo, gemm)
    return name, cfg, topo, compute, bandwidth


def check_environment():
    version = importlib.metadata.version("scalesim")
    import numpy

    if version != "3.0.0" or int(numpy.__version__.split(".")[0]) >= 2:
        sys.exit(
            f"need scalesim 3.0.0 with numpy < 2, found scalesim {version}, numpy "
            f"{numpy.__version__}"
        )
    return version, numpy.__version__


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--only", help="run only cases whose workload contains this")
    ap.add_argument("--dry-run", action="store_true", help="print the table and estimates")
    args = ap.parse_args()

    cases = list(enumerate(CASES))
    if args.only:
        cases = [(i, c) for i, c in cases if args.only in f"{c[0]}_b{c[1]}"]
    total = 0.0
    for i, (name, batch, df, r, c, sram) in cases:
        m, k, n = shape(name, batch)
        est = est_seconds(df, r, c, m, k, n)
        total += est
        if args.dry_run:
            print(f"{i:3} {name}_b{batch:<5} {df} {r}x{c} {sram:5} M={m} K={k} N={n} "
                  f"cycles~{est_cycles(df, r, c, m, k, n)} est {est:.0f}s")
    print(f"{len(cases)} cases, estimated {total:.0f} s of SCALE-Sim "
          f"({total / max(args.jobs, 1):.0f} s on {args.jobs} jobs)", file=sys.stderr)
    if args.dry_run:
        return
    version, npv = check_environment()
    print(f"scalesim {version}, numpy {npv}", file=sys.stderr)

    # Longest first, so the parallel runs finish together.
    order = sorted(cases, key=lambda ic: -est_seconds(ic[1][2], ic[1][3], ic[1][4],
                                                      *shape(ic[1][0], ic[1][1])))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        fixture_jobs = [] if args.only else [pool.submit(run_fixture, fx) for fx in FIXTURE_RUNS]
        rows = []
        for row in pool.map(run_case, order):
            rows.append(row)
            print(f"  case {row['case']:3} {row['workload']:<12} {row['dataflow']} "
                  f"{row['rows']}x{row['cols']}: {row['total_cycles']} cycles, "
                  f"{row['scalesim_seconds']} s", file=sys.stderr)
        fixtures = [f.result() for f in fixture_jobs]
    print(f"SCALE-Sim wall time {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    if args.only:
        w = csv.DictWriter(sys.stdout, fieldnames=HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(rows, key=lambda r: r["case"]))
        return
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = CASES_CSV.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        f.write(f"# SCALE-Sim {version} (numpy {npv}), CALC bandwidth mode; written by "
                f"scripts/scalesim_oracle.py. Report columns are SCALE-Sim's text, verbatim.\n")
        w = csv.DictWriter(f, fieldnames=HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(rows, key=lambda r: r["case"]))
    tmp.replace(CASES_CSV)

    if FIXTURES.exists():
        shutil.rmtree(FIXTURES)
    FIXTURES.mkdir(parents=True)
    for name, cfg, topo, compute, bandwidth in fixtures:
        (FIXTURES / f"{name}.cfg").write_text(cfg)
        (FIXTURES / f"{name}.csv").write_text(topo)
        (FIXTURES / f"{name}.COMPUTE_REPORT.csv").write_text(compute)
        (FIXTURES / f"{name}.BANDWIDTH_REPORT.csv").write_text(bandwidth)
    print(f"wrote {CASES_CSV.relative_to(ROOT)} ({len(rows)} cases) and "
          f"{len(fixtures)} fixtures in {FIXTURES.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
