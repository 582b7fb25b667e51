//! The fit uses only the rows its split marks for fitting, and is deterministic.

use seedchip_peers::Params;
use seedchip_peers::calibration::{Calibration, Role, Split};
use seedchip_peers::fit::fit;

#[test]
fn fitted_parameters_are_physical() {
    let p = Params::h100();
    assert!((0.7..0.85).contains(&p.ceiling.sustained_tensor), "{p:?}");
    assert!((0.8..0.95).contains(&p.ceiling.stream_efficiency), "{p:?}");
    // Eager framework calls cost tens of microseconds in total on the host.
    let gemm_floor = p.gemm.eager_pre_us + p.gemm.eager_post_us;
    assert!((20.0..60.0).contains(&gemm_floor), "{p:?}");
    assert!((0.1..10.0).contains(&p.gemm.wave_fill_us), "{p:?}");
    assert!((0.0..=1.0).contains(&p.gemm.overlap), "{p:?}");
    assert!(
        p.gather.in_flight_per_sm > 1.0 && p.gather.in_flight_per_sm < 256.0,
        "{p:?}"
    );
    assert!((0.0..=1.0).contains(&p.gather.hit_latency_ratio), "{p:?}");
}

#[test]
fn held_out_rows_do_not_move_the_fit_and_fitted_rows_do() {
    let cal = Calibration::h100();
    let split = Split::DOCUMENTED;
    let base = fit(&cal, &split);
    assert_eq!(base, fit(&cal, &split), "the fit is deterministic");

    // Corrupt every held-out row: the parameters must not change.
    let mut held_out = cal.clone();
    for (i, r) in held_out.gemm_bf16.iter_mut().enumerate() {
        if split.gemm_role(i, &r.clone()) == Role::Check {
            r.us *= 3.0;
        }
    }
    for (i, r) in held_out.embedding_bag_sum.iter_mut().enumerate() {
        if split.embedding_role(i, &r.clone()) == Role::Check {
            r.ms *= 3.0;
        }
    }
    assert_eq!(base, fit(&held_out, &split));

    // Slow down the fitted large GEMMs: the fit must follow.
    let mut fitted = cal.clone();
    for (i, r) in fitted.gemm_bf16.iter_mut().enumerate() {
        if split.gemm_role(i, &r.clone()) == Role::Fit && r.m == 16384 {
            r.us *= 2.0;
        }
    }
    assert_ne!(base.gemm, fit(&fitted, &split).gemm);
}
