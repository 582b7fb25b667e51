#!/usr/bin/env python3
"""The f32 reference executor against onnxruntime (CPU, same thread count) on exported zoo models.

For each model: `seedchip model export MODEL --rows-cap CAP` writes the ONNX file; for each
batch, random inputs (uniform ids below each table's rows, normal dense features) go to both
engines, measured the same way: one prepared session / executor with T intra-op threads, 2 warm-up
runs, median of 5 timed runs. onnxruntime: sequential execution mode, CPU provider. seedchip: the
`ref_timing` example of seedchip-onnx (import, `Executor` with `threads = T`). Prints a table
and the ratio onnxruntime / ref (> 1: ref is faster), then the results as JSON (also written to
--out when given). Both sides also report CPU time per run (user + system, all threads, over at
least 5 runs and 1 CPU-second) and its ratio, which a loaded machine disturbs much less than
wall time.

Usage (release build, from the repository root):
    cargo build --release -p seedchip-cli && cargo build --release -p seedchip-onnx --example ref_timing
    /tmp/onnxenv/bin/python crates/onnx/bench/ref_vs_onnxruntime.py \
        --seedchip target/release/seedchip --ref-timing target/release/examples/ref_timing \
        --threads 2 --out crates/onnx/bench/results-t2.json
"""

import argparse
import json
import os
import subprocess
import statistics
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort


def table_rows(model):
    dims = {t.name: list(t.dims) for t in model.graph.initializer}
    rows = {}
    for node in model.graph.node:
        if node.op_type == "Gather" and node.input[0] in dims and len(node.input) > 1:
            rows[node.input[1]] = min(rows.get(node.input[1], 1 << 62), dims[node.input[0]][0])
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seedchip", required=True)
    ap.add_argument("--ref-timing", required=True)
    ap.add_argument("--out")
    ap.add_argument("--models", default="dlrm-v2,rm2,dlrm-v1")
    ap.add_argument("--batches", default="64,512,4096")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rows-cap", type=int, default=20000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path = os.path.join(tmp, f"{name}.onnx")
            subprocess.run([args.seedchip, "model", "export", name, "-o", path, "--rows-cap",
                            str(args.rows_cap)], check=True, capture_output=True)
            meta = onnx.load(path, load_external_data=False)
            rows = table_rows(meta)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = args.threads
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            for batch in [int(b) for b in args.batches.split(",")]:
                feeds = {}
                for vi in meta.graph.input:
                    t = vi.type.tensor_type
                    shape = [batch if d.dim_param else d.dim_value for d in t.shape.dim]
                    if t.elem_type == onnx.TensorProto.FLOAT:
                        feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
                    else:
                        feeds[vi.name] = rng.integers(0, rows[vi.name], size=shape).astype(np.int64)
                for _ in range(2):
                    sess.run(None, feeds)
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    sess.run(None, feeds)
                    times.append(time.perf_counter() - t0)
                ort_s = statistics.median(times)
                # CPU time of this process (all onnxruntime threads) per run, over at least 5 runs
                # and 1 CPU-second, as ref_timing does.
                c0, cpu_runs = time.process_time(), 0
                while cpu_runs < 5 or time.process_time() - c0 < 1.0:
                    sess.run(None, feeds)
                    cpu_runs += 1
                ort_cpu = (time.process_time() - c0) / cpu_runs
                inp = os.path.join(tmp, "inputs.npz")
                np.savez(inp, **feeds)
                ref = json.loads(subprocess.run(
                    [args.ref_timing, path, inp, str(args.threads)],
                    check=True, capture_output=True, text=True).stdout)
                ref_s, ref_cpu = ref["median_s"], ref["cpu_s"]
                r = {"model": name, "batch": batch, "threads": args.threads,
                     "onnxruntime_ms": ort_s * 1e3, "ref_ms": ref_s * 1e3,
                     "ratio": ort_s / ref_s, "onnxruntime_cpu_ms": ort_cpu * 1e3,
                     "ref_cpu_ms": ref_cpu * 1e3, "cpu_ratio": ort_cpu / ref_cpu,
                     "load_1min": round(os.getloadavg()[0], 2)}
                results.append(r)
                print(f"{name:<10} batch {batch:>5}: onnxruntime {r['onnxruntime_ms']:9.2f} ms, "
                      f"ref {r['ref_ms']:9.2f} ms, ratio {r['ratio']:.2f}; CPU time ratio "
                      f"{r['cpu_ratio']:.2f} (load {r['load_1min']})",
                      flush=True)
    load = os.getloadavg()
    doc = {"schema_version": 2, "rows_cap": args.rows_cap, "threads": args.threads,
           "onnxruntime": ort.__version__, "cpus": os.cpu_count(),
           "load_average_1_5_15": [round(x, 2) for x in load], "results": results}
    text = json.dumps(doc, indent=1)
    print(text)
    if args.out:
        tmp_out = args.out + ".tmp"
        with open(tmp_out, "w") as f:
            f.write(text + "\n")
        os.replace(tmp_out, args.out)


if __name__ == "__main__":
    main()
