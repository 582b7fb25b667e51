#!/usr/bin/env bash
# Runs every cargo-fuzz target in turn (one at a time, at the lowest CPU priority) until it
# has executed RUNS inputs or SECONDS have passed, and records what each did.
#
#   scripts/fuzz_all.sh [SECONDS] [RUNS] [TARGET...]     defaults: 600 s, 1000000 runs, all
#
# Each target's corpus (fuzz/corpus/<target>, not committed) is seeded from files in the
# repository first: presets and broken chip files, zoo models' text IR, ONNX fixtures, test
# programs and listings, sweep files, `.npz`/`.npy` files, SCALE-Sim inputs, and the committed
# seeds under fuzz/seeds/<target>/. Each target is built just before it runs (so a run of one
# target builds only that one). Results go to fuzz/results.tsv (target, executions, seconds,
# exit status, load at start, date, commit — `+dirty` when crates/ or fuzz/ had changes) and each
# run's log to fuzz/logs/<target>.log; a crash leaves its input in fuzz/artifacts/<target>/ and
# the script carries on with the next target, exiting 1 at the end. Stable toolchains need
# `-s none` (no sanitizer), which this script passes.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-600}
runs=${2:-1000000}
shift 2 2>/dev/null || shift $#
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi

seed() {
    local t=$1 dir=fuzz/corpus/$1
    mkdir -p "$dir"
    case $t in
        chip_toml)
            cp crates/chip/src/presets/*.toml tests/bad-inputs/chip/*.toml "$dir"/ 2>/dev/null ;;
        ir_text)
            # The ref fixtures hold every zoo model's text IR.
            for f in crates/ref/tests/fixtures/*/model.sir; do
                cp "$f" "$dir/$(basename "$(dirname "$f")").sir"
            done
            cp tests/bad-inputs/ir/*.sir "$dir"/ 2>/dev/null ;;
        onnx_import)
            # The fixtures are all called model.onnx: name each copy by its path.
            find crates/onnx/tests/fixtures -name '*.onnx' -size -64k -exec sh -c \
                'cp "$1" "$2/$(echo "$1" | tr / _)"' _ {} "$dir" \; 2>/dev/null
            cp tests/bad-inputs/onnx/*.onnx "$dir"/ 2>/dev/null ;;
        isa_roundtrip)
            cp tests/bad-inputs/program/*.scp tests/bad-inputs/listing/*.s \
                tests/bad-inputs/support/tiny.scp tests/bad-inputs/support/tiny.s "$dir"/ 2>/dev/null ;;
        sweep_toml)
            cp tests/bad-inputs/sweep/*.toml examples/sweeps/*.toml "$dir"/ 2>/dev/null ;;
        workload_toml)
            cp tests/bad-inputs/workload/*.toml crates/serving/src/workloads/*.toml "$dir"/ 2>/dev/null ;;
        npz_inputs)
            find crates/onnx/tests/fixtures -name '*.npz' -size -64k -exec sh -c \
                'cp "$1" "$2/$(echo "$1" | tr / _)"' _ {} "$dir" \; 2>/dev/null
            cp tests/bad-inputs/inputs/*.npz tests/bad-inputs/weights/*.npy \
                tests/bad-inputs/support/tiny-inputs.npz "$dir"/ 2>/dev/null ;;
        scalesim_input)
            # One byte of flags (bit 0: --gemm), the config, a NUL, the topology.
            for cfg in tests/bad-inputs/support/*.cfg tests/bad-inputs/scalesim/*.cfg \
                crates/timing/tests/data/scalesim/*.cfg; do
                for csv in tests/bad-inputs/support/*.csv tests/bad-inputs/scalesim/*.csv \
                    crates/timing/tests/data/scalesim/*[0-9].csv; do
                    for gemm in 0 1; do
                        { printf "\\$gemm"; cat "$cfg"; printf '\0'; cat "$csv"; } \
                            >"$dir/$(basename "$cfg" .cfg)+$(basename "$csv" .csv)+$gemm"
                    done
                done
            done ;;
    esac
    [ -d "fuzz/seeds/$t" ] && cp "fuzz/seeds/$t"/* "$dir"/ 2>/dev/null
    true
}

mkdir -p fuzz/logs
results=fuzz/results.tsv
[ -f "$results" ] || printf 'target\texecutions\tseconds\tstatus\tload\tdate\tcommit\n' >"$results"
failed=0
for t in "${targets[@]}"; do
    (cd fuzz && nice -n 19 cargo fuzz build -s none "$t") || exit 2
    seed "$t"
    commit=$(git rev-parse --short HEAD)
    # Only changes to what the target is built from make the recorded commit inexact.
    [ -z "$(git status --porcelain --untracked-files=no -- crates fuzz Cargo.toml Cargo.lock)" ] ||
        commit="$commit+dirty"
    load=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s)
    # -timeout: one input running longer than 60 s of wall time counts as a hang (a crash).
    # It is wall time, and at `nice -n 19` on a busy machine a fuzzer gets a sliver of a core,
    # so a tighter bound reports inputs that take a fraction of a second of CPU. The binary
    # `cargo fuzz build` made runs directly: after a crash `cargo fuzz run` rebuilds every
    # crate in another configuration to print the input, which takes minutes on a busy machine.
    mkdir -p "fuzz/artifacts/$t"
    (cd fuzz && nice -n 19 "target/$(rustc -vV | sed -n 's/^host: //p')/release/$t" \
        -artifact_prefix="artifacts/$t/" -runs="$runs" -max_total_time="$seconds" -timeout=60 \
        -rss_limit_mb=4096 -print_final_stats=1 -close_fd_mask=1 "corpus/$t") \
        >"fuzz/logs/$t.log" 2>&1
    status=$?
    elapsed=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/logs/$t.log" | tail -1 | grep -o '[0-9]*$')
    # libFuzzer's own run time (absent after a crash: then the wall time of the run).
    ran=$(grep -o 'Done [0-9]* runs in [0-9]* second' "fuzz/logs/$t.log" | tail -1 | grep -o '[0-9]* second' | grep -o '[0-9]*')
    [ -n "$ran" ] && elapsed=$ran
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "${execs:-?}" "$elapsed" "$status" "$load" \
        "$(date -u +%FT%TZ)" "$commit" | tee -a "$results"
    [ "$status" -eq 0 ] || failed=1
done
exit $failed
