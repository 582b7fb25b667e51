//! Kernel-level behaviour: what each efficiency curve must do, whatever the fitted values.

use seedchip_chip::Precision;
use seedchip_peers::calibration::Calibration;
use seedchip_peers::kernels::{GatherTable, GemmShape, gather, gemm};
use seedchip_peers::{Device, Params};

fn h100() -> Device {
    Device::get("h100-sxm").unwrap()
}

#[test]
fn large_gemm_reaches_the_measured_ceiling() {
    let cal = Calibration::h100();
    let k = gemm(
        &h100(),
        Params::h100(),
        GemmShape::single(8192, 8192, 8192),
        Precision::Bf16,
    )
    .unwrap();
    let tflops = k.flops / k.total_us / 1e6;
    let ceiling = cal.ceilings.gemm_bf16_tflops;
    assert!(
        (tflops / ceiling - 1.0).abs() < 0.06,
        "{tflops:.0} TF vs measured {ceiling} TF"
    );
}

#[test]
fn one_extra_tile_costs_a_wave() {
    let d = h100();
    let p = Params::h100();
    // 12 × 11 = 132 output tiles of 128 × 256 fill the SMs once (compute-bound); one more
    // column of tiles needs a second wave or smaller, less efficient tiles.
    let full = gemm(
        &d,
        p,
        GemmShape::single(128 * 12, 8192, 256 * 11),
        Precision::Bf16,
    )
    .unwrap();
    let over = gemm(
        &d,
        p,
        GemmShape::single(128 * 12, 8192, 256 * 12),
        Precision::Bf16,
    )
    .unwrap();
    assert!(full.compute_us > full.memory_us, "{full:?}");
    assert!(over.total_us > full.total_us * 1.15, "{full:?} {over:?}");
}

#[test]
fn small_m_gemms_are_weight_bandwidth_bound_and_int8_is_faster_when_compute_bound() {
    let d = h100();
    let p = Params::h100();
    let gemv = gemm(&d, p, GemmShape::single(1, 4096, 4096), Precision::Bf16).unwrap();
    assert!(gemv.memory_us > gemv.compute_us * 0.5, "{gemv:?}");
    let big = GemmShape::single(16384, 4096, 4096);
    let bf16 = gemm(&d, p, big, Precision::Bf16).unwrap();
    let int8 = gemm(&d, p, big, Precision::Int8).unwrap();
    assert!(int8.total_us < 0.6 * bf16.total_us, "{bf16:?} {int8:?}");
}

#[test]
fn gathers_slow_down_with_misses_row_size_and_host_rows() {
    let d = h100();
    let p = Params::h100();
    let t = |hit: f64, row_bytes: f64, host: f64| {
        let table = GatherTable {
            lookups: 1e6,
            row_bytes,
            cache_hit: hit,
            host_fraction: host,
        };
        gather(&d, p, &[table], 0.0, 1.0).total_us
    };
    assert!(t(0.0, 256.0, 0.0) > t(0.8, 256.0, 0.0));
    assert!(t(0.0, 512.0, 0.0) > t(0.0, 256.0, 0.0));
    assert!(t(0.0, 256.0, 0.05) > 2.0 * t(0.0, 256.0, 0.0));
    // More lookups in flight (a tuned kernel) never hurts.
    let table = GatherTable {
        lookups: 1e6,
        row_bytes: 136.0,
        cache_hit: 0.3,
        host_fraction: 0.0,
    };
    assert!(
        gather(&d, p, &[table], 0.0, 4.0).total_us < gather(&d, p, &[table], 0.0, 1.0).total_us
    );
}

#[test]
fn bandwidth_carries_to_other_devices() {
    let p = Params::h100();
    let table = GatherTable {
        lookups: 1e7,
        row_bytes: 256.0,
        cache_hit: 0.0,
        host_fraction: 0.0,
    };
    let h100 = gather(&h100(), p, &[table], 0.0, 4.0).total_us;
    let h200 = gather(&Device::get("h200").unwrap(), p, &[table], 0.0, 4.0).total_us;
    let l4 = gather(&Device::get("l4").unwrap(), p, &[table], 0.0, 4.0).total_us;
    assert!(h200 < h100 && h100 < l4, "{h200} {h100} {l4}");
}
