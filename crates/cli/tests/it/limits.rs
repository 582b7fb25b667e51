//! Resource limits: work that cannot fit in memory is refused before anything is allocated,
//! and runaway simulations stop with a message naming the flag that raises the bound
//! (docs/robustness.md "Resource limits"). None of these tests allocates the memory it talks
//! about: the refusals come from estimates.

use crate::support::*;

fn refused(o: &std::process::Output, fragments: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(o.stdout.is_empty(), "printed on stdout");
    assert!(!err.contains("panicked"), "{err}");
    for f in fragments {
        assert!(err.contains(f), "expected {f:?} in:\n{err}");
    }
}

#[test]
fn a_batch_over_the_memory_limit_is_refused_with_the_estimate() {
    let env = [("SEEDCHIP_MEMORY_LIMIT", "1M")];
    let o = seedchip_env(
        &["infer", "dlrm-v1", "--batch", "100000", "--rows-cap", "100"],
        &env,
    );
    refused(
        &o,
        &[
            "infer dlrm-v1 --batch 100000 needs an estimated",
            "activations",
            "1.0 MiB available (SEEDCHIP_MEMORY_LIMIT=1M)",
            "hint: a smaller --batch",
        ],
    );
    let o = seedchip_env(
        &[
            "run",
            "dlrm-v1",
            "--chip",
            "seedchip-v1",
            "--batch",
            "100000",
            "--rows-cap",
            "100",
        ],
        &env,
    );
    refused(&o, &["run dlrm-v1 --batch 100000", "simulated SRAM"]);
    let o = seedchip_env(
        &[
            "sim",
            "dlrm-v1",
            "--chip",
            "seedchip-v1",
            "--batch",
            "100000",
            "--rows-cap",
            "100",
        ],
        &env,
    );
    refused(&o, &["sim dlrm-v1 --batch 100000", "ids"]);
    let o = seedchip_env(
        &[
            "compile",
            "dlrm-v1",
            "--chip",
            "seedchip-v1",
            "-o",
            "/tmp/never.scp",
        ],
        &[("SEEDCHIP_MEMORY_LIMIT", "1K")],
    );
    refused(&o, &["compile dlrm-v1 needs an estimated", "parameters"]);
    assert!(!std::path::Path::new("/tmp/never.scp").exists());
}

/// Without an override the budget is the machine's available memory: a batch of 10^12
/// samples needs terabytes and is refused at once (on Linux, where /proc/meminfo exists).
#[test]
fn an_impossible_batch_is_refused_against_available_memory() {
    if !std::path::Path::new("/proc/meminfo").exists() {
        return;
    }
    let o = seedchip(&["infer", "dlrm-v1", "--batch", "1000000000000"]);
    refused(&o, &["TiB", "MemAvailable in /proc/meminfo"]);
    let o = seedchip(&[
        "sim",
        "dlrm-v2",
        "--chip",
        "seedchip-v1",
        "--batch",
        "4000000000",
    ]);
    refused(&o, &["needs an estimated", "MemAvailable"]);
}

#[test]
fn the_memory_limit_can_be_disabled_and_must_be_a_size() {
    let args = [
        "infer",
        "dlrm-v1",
        "--batch",
        "4",
        "--rows-cap",
        "100",
        "--json",
    ];
    let o = seedchip_env(&args, &[("SEEDCHIP_MEMORY_LIMIT", "off")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = seedchip_env(&args, &[("SEEDCHIP_MEMORY_LIMIT", "64G")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = seedchip_env(&args, &[("SEEDCHIP_MEMORY_LIMIT", "lots")]);
    refused(&o, &["SEEDCHIP_MEMORY_LIMIT=lots: not a size"]);
}

#[test]
fn runaway_simulations_stop_at_their_bounds() {
    let o = seedchip(&[
        "run",
        "dlrm-v1",
        "--chip",
        "seedchip-v1",
        "--batch",
        "2",
        "--rows-cap",
        "100",
        "--max-steps",
        "10",
    ]);
    refused(
        &o,
        &[
            "10 instructions executed without finishing",
            "hint: raise --max-steps",
        ],
    );
    let o = seedchip(&[
        "sim",
        "dlrm-v1",
        "--chip",
        "seedchip-v1",
        "--batch",
        "2",
        "--rows-cap",
        "100",
        "--max-events",
        "10",
    ]);
    refused(
        &o,
        &[
            "event limit: 10 events processed",
            "hint: raise --max-events",
        ],
    );
}

/// A program written by `compile` runs as it is (`run prog.scp`, or its listing) and computes
/// what running the model computes (in bf16: int8 `run --inputs` calibrates on the given inputs,
/// `compile` on generated ones, so their int8 programs differ).
#[test]
fn a_compiled_program_runs_from_its_file() {
    let dir = std::env::temp_dir().join(format!("seedchip-scp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scp = dir.join("tiny.scp");
    let listing = dir.join("tiny.s");
    let o = seedchip(&[
        "compile",
        "tests/bad-inputs/support/tiny.sir",
        "--chip",
        "seedchip-v1",
        "--batch",
        "2",
        "--precision",
        "bf16",
        "-o",
        scp.to_str().unwrap(),
        "--asm",
        listing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let inputs = "tests/bad-inputs/support/tiny-inputs.npz";
    let direct = json(&seedchip(&[
        "run",
        "tests/bad-inputs/support/tiny.sir",
        "--chip",
        "seedchip-v1",
        "--precision",
        "bf16",
        "--inputs",
        inputs,
        "--json",
    ]));
    for file in [&scp, &listing] {
        let from_file = json(&seedchip(&[
            "run",
            file.to_str().unwrap(),
            "--chip",
            "seedchip-v1",
            "--inputs",
            inputs,
            "--json",
        ]));
        assert_eq!(
            from_file["checksum"],
            direct["checksum"],
            "{}",
            file.display()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
