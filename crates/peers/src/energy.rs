//! Power from utilization: no peer publishes power per kernel, so energy comes from the TDP
//! and a utilization-power curve.
//!
//! `P = TDP · (idle + (1 − idle) · activity)`, with
//! `activity = min(1, u_tensor / sustained + MEMORY_POWER_WEIGHT · u_hbm / stream_efficiency)`:
//! * `u_tensor` is achieved FLOP/s over the dense datasheet peak at the kernel's precision.
//!   Divided by the sustained fraction because the calibration's 8192³ GEMM runs at that
//!   fraction exactly *because* it is at the power cap: such a kernel draws the full TDP.
//! * `u_hbm` is achieved bytes/s over datasheet bandwidth; streaming HBM at full copy speed
//!   counts as half the dynamic range (HBM, its PHYs and the L2 fabric, not the SMs).
//! * Time the device waits (launch gaps, host copies, host dispatch) draws idle power.
//!
//! A first-order model: good for comparing devices and batch sizes, not for absolute watts
//! within ±20 %.

use seedchip_chip::Precision;

use crate::Params;
use crate::device::Device;
use crate::kernels::KernelTime;

/// Share of the dynamic power range that full-bandwidth HBM streaming draws.
pub const MEMORY_POWER_WEIGHT: f64 = 0.5;

/// Activity in `[0, 1]` of one kernel.
pub fn activity(dev: &Device, params: &Params, p: Precision, k: &KernelTime) -> f64 {
    if k.total_us <= 0.0 {
        return 0.0;
    }
    let peak = dev.peak_tops(p).unwrap_or(f64::INFINITY) * 1e6;
    let u_tensor = k.flops / k.total_us / peak;
    let u_hbm = k.bytes / k.total_us / dev.bandwidth_bytes_per_us();
    let sustained = match p {
        Precision::Tf32 => params.ceiling.sustained_tf32,
        _ => params.ceiling.sustained_tensor,
    };
    (u_tensor / sustained + MEMORY_POWER_WEIGHT * u_hbm / params.ceiling.stream_efficiency)
        .clamp(0.0, 1.0)
}

/// Power at an activity, W; `None` without a published TDP.
pub fn power_w(dev: &Device, activity: f64) -> Option<f64> {
    let tdp = dev.peer.tdp_w?;
    let idle = dev.arch.idle_power_fraction;
    Some(tdp * (idle + (1.0 - idle) * activity.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_spans_idle_to_tdp() {
        let d = Device::get("h100-sxm").unwrap();
        assert_eq!(power_w(&d, 0.0), Some(70.0));
        assert_eq!(power_w(&d, 1.0), Some(700.0));
        assert_eq!(power_w(&d, 7.0), Some(700.0));
        assert_eq!(power_w(&Device::get("inferentia2").unwrap(), 0.5), None);
    }

    #[test]
    fn a_big_gemm_is_at_the_power_cap() {
        let d = Device::get("h100-sxm").unwrap();
        let params = Params::h100();
        let shape = crate::kernels::GemmShape::single(8192, 8192, 8192);
        let k = crate::kernels::gemm(&d, params, shape, Precision::Bf16).unwrap();
        assert!(activity(&d, params, Precision::Bf16, &k) > 0.9);
        let idle = KernelTime::default();
        assert_eq!(activity(&d, params, Precision::Bf16, &idle), 0.0);
    }
}
