#!/usr/bin/env bash
# seedchip's detailed memory model against DRAMsim3 on identical HBM2 traces.
#
#   scripts/dramsim3_compare.sh DRAMSIM3_DIR [WORK_DIR]
#
# DRAMSIM3_DIR: a checkout of https://github.com/umd-memsys/DRAMsim3 (tested at 2981759) kept
# outside this repository. It is built there with its own Makefile (g++ and make; no cmake),
# and scripts/dramsim3/driver.cc (ours) is linked against it. Nothing of DRAMsim3 is copied
# into this repository.
#
# Both simulators run the same trace files (`mem_trace gen`, DRAMsim3's text format) on
# DRAMsim3's configs/HBM2_8Gb_x128.ini and seedchip's equivalent of it (`mem_trace config`).
# Prints the Markdown table recorded in docs/memory-model.md. N (lines per trace, default
# 200000) and SEED (default 7) can be set in the environment.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 DRAMSIM3_DIR [WORK_DIR]" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DS=$(cd "$1" && pwd)
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK/out"
N=${N:-200000}
SEED=${SEED:-7}
PATTERNS="stream random random-rw random256 streams8 random-half stream-rw"

if [ ! -f "$DS/libdramsim3.so" ]; then
    make -C "$DS" -j2 libdramsim3.so >&2
fi
g++ -O2 -std=c++11 -I"$DS/src" -I"$DS/ext/headers" -I"$DS/ext/fmt/include" -DFMT_HEADER_ONLY=1 \
    "$ROOT/scripts/dramsim3/driver.cc" -L"$DS" -ldramsim3 -Wl,-rpath,"$DS" -o "$WORK/driver"

(cd "$ROOT" && cargo build --release -q -p seedchip-timing --example mem_trace)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SC="$TARGET/release/examples/mem_trace"

for p in $PATTERNS; do
    "$SC" gen "$p" "$N" "$SEED" >"$WORK/$p.trace"
    "$WORK/driver" "$DS/configs/HBM2_8Gb_x128.ini" "$WORK/$p.trace" "$WORK/out/" \
        2>/dev/null | tail -n 1 >"$WORK/$p.ds3.json"
    "$SC" run "$WORK/$p.trace" >"$WORK/$p.sc.json"
    echo "$p done" >&2
done
python3 "$ROOT/scripts/dramsim3/table.py" "$WORK" $PATTERNS
