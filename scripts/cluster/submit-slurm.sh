#!/bin/bash
# Submits a sweep as an N-task Slurm array plus a merge job that runs once every task succeeded.
#
#   scripts/cluster/submit-slurm.sh sweep.toml results/ 16
set -euo pipefail
SWEEP=${1:?usage: submit-slurm.sh SWEEP.toml OUTDIR N}
OUT=${2:?usage: submit-slurm.sh SWEEP.toml OUTDIR N}
N=${3:?usage: submit-slurm.sh SWEEP.toml OUTDIR N}
HERE=$(cd "$(dirname "$0")" && pwd)

array=$(sbatch --parsable --array="1-$N" "$HERE/sweep-array.slurm" "$SWEEP" "$OUT")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" "$HERE/sweep-merge.slurm" "$OUT" "$N")
echo "array job $array ($N shards), merge job $merge; results in $OUT/all.jsonl, report in $OUT/report/"
