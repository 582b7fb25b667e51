//! The queueing core against closed forms: M/D/1, M/M/1 and M/M/c mean waits within 3 %.
//!
//! Sample sizes: at ρ = 0.5 the waiting-time autocorrelation is short, so 300 000 requests
//! give a relative standard error of about 0.5 % on Wq (the 3 % bound sits at about six
//! standard errors); each test checks three seeds and takes well under a second in debug.

use seedchip_serving::engine::{Batching, PairRule, ServeConfig, Stage, simulate};
use seedchip_serving::service::ServiceTime;
use seedchip_serving::{Arrivals, theory};
use seedchip_zoo::CandidateDist;

fn single(qps: f64, replicas: u32, service: ServiceTime, seed: u64, n: u64) -> ServeConfig {
    ServeConfig {
        arrivals: Arrivals::Poisson { qps },
        candidates: CandidateDist::Fixed(1),
        stages: vec![Stage {
            name: "s".into(),
            replicas,
            chips_per_replica: 1,
            batching: Batching {
                max_batch_pairs: 1,
                max_wait_s: 0.0,
                split_large: false,
            },
            pairs: PairRule::All,
            service,
        }],
        requests: n,
        warmup_requests: n / 20,
        sla_p99_ms: None,
        seed,
        exact_limit: 0,
    }
}

fn mean_wait_s(cfg: &ServeConfig) -> f64 {
    simulate(cfg).unwrap().stages[0].mean_queue_wait_ms / 1e3
}

fn check(name: &str, got: f64, want: f64) {
    let err = (got - want).abs() / want;
    assert!(
        err < 0.03,
        "{name}: simulated Wq {got:.5} s vs theory {want:.5} s ({:.2} %)",
        100.0 * err
    );
}

#[test]
fn md1_mean_wait_matches_pollaczek_khinchine() {
    let d = 0.001;
    let lambda = 500.0; // ρ = 0.5
    for seed in [1, 2, 3] {
        let cfg = single(
            lambda,
            1,
            ServiceTime::Deterministic { seconds: d },
            seed,
            300_000,
        );
        check("M/D/1", mean_wait_s(&cfg), theory::md1_wait_s(lambda, d));
    }
}

#[test]
fn mm1_mean_wait_matches() {
    let m = 0.001;
    let lambda = 500.0;
    for seed in [1, 2, 3] {
        let cfg = single(
            lambda,
            1,
            ServiceTime::Exponential { mean_s: m },
            seed,
            300_000,
        );
        check("M/M/1", mean_wait_s(&cfg), theory::mm1_wait_s(lambda, m));
    }
}

#[test]
fn mmc_mean_wait_matches_erlang_c() {
    let m = 0.001;
    let c = 4;
    let lambda = 2800.0; // ρ = 0.7
    for seed in [1, 2, 3] {
        let cfg = single(
            lambda,
            c,
            ServiceTime::Exponential { mean_s: m },
            seed,
            300_000,
        );
        check("M/M/4", mean_wait_s(&cfg), theory::mmc_wait_s(lambda, m, c));
    }
}

/// Heavier loads need longer runs: release only (`cargo test --release -- --ignored`).
#[test]
#[ignore]
fn heavy_load_theory_release_only() {
    for seed in 10..15 {
        let cfg = single(
            850.0,
            1,
            ServiceTime::Deterministic { seconds: 0.001 },
            seed,
            5_000_000,
        );
        check(
            "M/D/1 ρ=0.85",
            mean_wait_s(&cfg),
            theory::md1_wait_s(850.0, 0.001),
        );
        let cfg = single(
            850.0,
            1,
            ServiceTime::Exponential { mean_s: 0.001 },
            seed,
            5_000_000,
        );
        check(
            "M/M/1 ρ=0.85",
            mean_wait_s(&cfg),
            theory::mm1_wait_s(850.0, 0.001),
        );
        let cfg = single(
            7200.0,
            8,
            ServiceTime::Exponential { mean_s: 0.001 },
            seed,
            5_000_000,
        );
        check(
            "M/M/8 ρ=0.9",
            mean_wait_s(&cfg),
            theory::mmc_wait_s(7200.0, 0.001, 8),
        );
    }
}
