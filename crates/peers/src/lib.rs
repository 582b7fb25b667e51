//! Calibrated analytic models of peer devices: GPUs and other accelerators that seedchip
//! compares against but does not simulate.
//!
//! A peer is its datasheet record (`seedchip_chip::peers`) plus efficiency curves: GEMM time by
//! shape (waves of tiles over the SMs, per-wave fill, operand intensity, HBM traffic), gather
//! time by row size, pooling and popularity (cache hits from Che's approximation, a latency and
//! a bandwidth limit), streaming kernels at measured copy efficiency, host dispatch per kernel
//! in eager mode, gaps between replayed kernels, and host-link copies. The curves are fitted to
//! real H100 measurements (`data/h100-sxm.json`) on part of the rows and checked on the rest;
//! other devices inherit them through documented datasheet ratios (`device`).
//!
//! Reading order: [`calibration`] (the data and the fit/check split) → [`kernels`] (kernel time)
//! → [`fit`] (the fitted parameters) → [`device`] (carry rules) → [`stack`] (eager, graph,
//! tuned) → [`predict`] ([`PeerModel`]) → [`energy`] → [`validate`] (predicted vs measured,
//! `docs/validation.md`).

pub mod calibration;
pub mod device;
pub mod energy;
pub mod fit;
pub mod kernels;
pub mod mlperf;
pub mod predict;
pub mod skew;
pub mod stack;
pub mod validate;

pub use device::Device;
pub use fit::Params;
pub use predict::{Bound, Energy, LayerPrediction, PeerModel, PredictOptions, Prediction};
pub use skew::AccessPattern;
pub use stack::Stack;

use seedchip_chip::Precision;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User: no peer model has this name.
    #[error("unknown peer device `{name}`; peer devices are: {valid}")]
    UnknownDevice { name: String, valid: String },
    /// User: the device has no datasheet peak at this precision.
    #[error("{device} has no published {precision} peak; it supports: {valid}")]
    UnsupportedPrecision {
        device: String,
        precision: Precision,
        valid: String,
    },
    /// User: an option is out of range.
    #[error("{option}: {reason}")]
    InvalidOption { option: String, reason: String },
    /// User: the graph has something the model cannot cost (a node named with its op).
    #[error("{node}: {reason}")]
    UnsupportedGraph { node: String, reason: String },
    /// User or internal: a calibration file is malformed (internal when it is the embedded one,
    /// which panics instead of returning this).
    #[error("calibration data: {reason}")]
    Calibration { reason: String },
    /// Internal: a built-in reference model failed to build.
    #[error(transparent)]
    Zoo(#[from] seedchip_zoo::Error),
}
