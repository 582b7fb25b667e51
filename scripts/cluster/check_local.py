#!/usr/bin/env python3
"""Runs the cluster recipes of docs/cluster.md on this machine, with the scheduler emulated, and
checks that the merged shards equal a single-process run byte for byte.

  python3 scripts/cluster/check_local.py [SWEEP.toml] [N]   (default: tests/sweeps/tiny.toml, 3)

Slurm: each array task runs sweep-array.slurm with the SLURM_ARRAY_* variables Slurm sets, then
sweep-merge.slurm runs. Kubernetes: the shard and merge commands are read from the two Job
manifests and run by /bin/sh with JOB_COMPLETION_INDEX set, /sweep and /results mapped to local
folders. Needs `seedchip` on PATH or SEEDCHIP=path/to/seedchip, and PyYAML for the manifests.
"""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    sweep = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "tests/sweeps/tiny.toml")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    seedchip = os.environ.get("SEEDCHIP", shutil.which("seedchip") or "seedchip")
    seedchip = os.path.abspath(seedchip) if os.path.exists(seedchip) else seedchip
    tmp = tempfile.mkdtemp(prefix="seedchip-cluster-")
    env = dict(os.environ, SEEDCHIP=seedchip)
    single = os.path.join(tmp, "single.jsonl")
    subprocess.run([seedchip, "sweep", sweep, "-o", single, "--quiet"], check=True)

    # Slurm job array, task ids 5..5+n-1 to exercise SLURM_ARRAY_TASK_MIN.
    out = os.path.join(tmp, "slurm")
    for task in range(5, 5 + n):
        e = dict(env, SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_MIN="5",
                 SLURM_ARRAY_TASK_COUNT=str(n), SLURM_CPUS_PER_TASK="2")
        subprocess.run(["bash", os.path.join(HERE, "sweep-array.slurm"), sweep, out],
                       check=True, env=e, stderr=subprocess.DEVNULL)
    subprocess.run(["bash", os.path.join(HERE, "sweep-merge.slurm"), out, str(n)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    assert filecmp.cmp(single, os.path.join(out, "all.jsonl"), shallow=False), "slurm merge differs"
    assert os.path.exists(os.path.join(out, "report", "report.html"))
    print(f"slurm: {n} array tasks merged equal the single-process run")

    import yaml  # only for the Kubernetes half

    def command(manifest, name):
        with open(os.path.join(HERE, manifest)) as f:
            job = yaml.safe_load(f)
        c = job["spec"]["template"]["spec"]["containers"][0]
        assert c["name"] == name
        envs = {v["name"]: v["value"] for v in c.get("env", [])}
        return c["command"], c["args"][0], envs, job["spec"]

    kdir = os.path.join(tmp, "k8s")
    os.makedirs(os.path.join(kdir, "sweep"))
    os.makedirs(os.path.join(kdir, "results"))
    shutil.copy(sweep, os.path.join(kdir, "sweep", "sweep.toml"))
    bindir = os.path.join(kdir, "bin")
    os.makedirs(bindir)
    os.symlink(seedchip if os.path.isabs(seedchip) else shutil.which(seedchip),
               os.path.join(bindir, "seedchip"))

    def local(script):
        return script.replace("/sweep/", kdir + "/sweep/").replace("/results", kdir + "/results")

    cmd, script, envs, spec = command("sweep-indexed-job.yaml", "shard")
    assert spec["completionMode"] == "Indexed"
    for i in range(n):
        e = dict(env, **envs)
        e.update(SHARDS=str(n), JOB_COMPLETION_INDEX=str(i), PATH=bindir + os.pathsep + env["PATH"])
        subprocess.run(cmd + [local(script)], check=True, env=e, stderr=subprocess.DEVNULL)
    cmd, script, envs, _ = command("sweep-merge-job.yaml", "merge")
    e = dict(env, **envs)
    e.update(SHARDS=str(n), PATH=bindir + os.pathsep + env["PATH"])
    subprocess.run(cmd + [local(script)], check=True, env=e, stdout=subprocess.DEVNULL)
    merged = os.path.join(kdir, "results", "all.jsonl")
    assert filecmp.cmp(single, merged, shallow=False), "kubernetes merge differs"
    print(f"kubernetes: {n} indexed pods merged equal the single-process run")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
