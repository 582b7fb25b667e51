//! What the model needs to know about a device beyond its datasheet record
//! (`seedchip_chip::peers`), and the documented rules that carry the H100 fit to it.
//!
//! Carry rules (the H100 is the only device with measurements):
//! * Compute: each precision's dense datasheet peak times the sustained fraction measured on the
//!   H100 (8192³ GEMM / datasheet peak), spread over the device's SMs. Devices without SMs are
//!   modelled as "SM equivalents" of the H100's per-SM bf16 throughput, so that wave
//!   quantization and per-tile costs keep their meaning.
//! * Memory: datasheet bandwidth times the H100's measured copy efficiency; gathers keep the
//!   fitted lookups-in-flight per SM (NVIDIA: same SM design family) or, without SMs, scale the
//!   H100's total in-flight lookups by the bandwidth ratio (a memory system is sized to keep
//!   its bandwidth busy at its latency).
//! * Cache: the L2 (or last-level on-chip memory) from the datasheet; where none is published
//!   the gather model assumes no cache hits, which is conservative.
//! * Host link, SM counts and idle power are architecture facts listed in [`ARCHES`] with their
//!   uncertainty.

use seedchip_chip::Precision;
use seedchip_chip::peers::Peer;
use serde::Serialize;

use crate::Error;

/// Architecture facts per peer, beyond the datasheet record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Arch {
    pub name: &'static str,
    /// Streaming multiprocessors; `None` where the device has no SM-like unit with a known count.
    pub sms: Option<u32>,
    /// Host link, per direction, GB/s (raw signalling rate).
    pub host_link_gbps: f64,
    pub host_link: &'static str,
    /// Idle power as a fraction of TDP.
    pub idle_power_fraction: f64,
    pub notes: &'static str,
}

/// The peers' architecture facts. Sources: reference file §A.1 for SM counts of H100/H200, H20
/// (78, from Geekbench, contested), A100 (108); the L4's 58 SMs follow from its 7,424 CUDA
/// cores at 128 per Ada SM; the B200's 148 SMs are NVIDIA launch material not in the reference
/// file (uncertain). Host links are the PCIe generation of each product; 10 % idle power is
/// the H100's ~70 W idle at 700 W TDP, applied to all (an assumption).
pub const ARCHES: &[Arch] = &[
    Arch {
        name: "h100-sxm",
        sms: Some(132),
        host_link_gbps: 64.0,
        host_link: "PCIe 5.0 x16",
        idle_power_fraction: 0.1,
        notes: "calibrated device",
    },
    Arch {
        name: "h200",
        sms: Some(132),
        host_link_gbps: 64.0,
        host_link: "PCIe 5.0 x16",
        idle_power_fraction: 0.1,
        notes: "same GH100 die as the H100; only memory differs",
    },
    Arch {
        name: "h20",
        sms: Some(78),
        host_link_gbps: 64.0,
        host_link: "PCIe 5.0 x16",
        idle_power_fraction: 0.1,
        notes: "SM count contested (Geekbench only)",
    },
    Arch {
        name: "a100-80g",
        sms: Some(108),
        host_link_gbps: 32.0,
        host_link: "PCIe 4.0 x16",
        idle_power_fraction: 0.1,
        notes: "",
    },
    Arch {
        name: "l4",
        sms: Some(58),
        host_link_gbps: 32.0,
        host_link: "PCIe 4.0 x16",
        idle_power_fraction: 0.1,
        notes: "GDDR6; 24 GB cannot hold DLRM-v2's tables",
    },
    Arch {
        name: "b200",
        sms: Some(148),
        host_link_gbps: 64.0,
        host_link: "PCIe 5.0 x16",
        idle_power_fraction: 0.1,
        notes: "SM count from launch material (uncertain); L2 not published",
    },
    Arch {
        name: "ascend-910b",
        sms: None,
        host_link_gbps: 32.0,
        host_link: "PCIe 4.0 x16 (assumed)",
        idle_power_fraction: 0.1,
        notes: "no SMs: modelled as H100-SM equivalents; no published cache size",
    },
    Arch {
        name: "inferentia2",
        sms: None,
        host_link_gbps: 32.0,
        host_link: "PCIe 4.0 x16 (assumed)",
        idle_power_fraction: 0.1,
        notes: "no SMs: modelled as H100-SM equivalents; no TDP published (no energy)",
    },
];

/// The H100's datasheet record, which every carry rule divides by.
pub fn h100() -> Peer {
    seedchip_chip::peers::get("h100-sxm").expect("the h100-sxm datasheet record exists")
}

/// A device as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub peer: Peer,
    pub arch: Arch,
    /// SMs, or H100-SM equivalents.
    pub units: u32,
    pub units_are_sm_equivalents: bool,
    /// On-chip cache available to the gather model, bytes (0 when unpublished).
    pub cache_bytes: f64,
}

impl Device {
    pub fn get(name: &str) -> Result<Device, Error> {
        let unknown = || Error::UnknownDevice {
            name: name.to_string(),
            valid: ARCHES.iter().map(|a| a.name).collect::<Vec<_>>().join(", "),
        };
        let peer = seedchip_chip::peers::get(name).ok_or_else(unknown)?;
        let arch = *ARCHES.iter().find(|a| a.name == name).ok_or_else(unknown)?;
        let (units, equiv) = match arch.sms {
            Some(n) => (n, false),
            None => {
                let h = h100();
                let per_sm = bf16_class_peak(&h).unwrap_or(1.0) / f64::from(H100_SMS);
                let peak = bf16_class_peak(&peer).unwrap_or(per_sm);
                ((peak / per_sm).round().max(1.0) as u32, true)
            }
        };
        Ok(Device {
            cache_bytes: peer.on_chip_mb.unwrap_or(0.0) * 1e6,
            peer,
            arch,
            units,
            units_are_sm_equivalents: equiv,
        })
    }

    pub fn name(&self) -> &'static str {
        self.peer.name
    }

    /// Dense datasheet peak at `p`, TFLOP/s or TOPS.
    pub fn peak_tops(&self, p: Precision) -> Result<f64, Error> {
        self.peer
            .peak_tops
            .get(&p)
            .copied()
            .ok_or_else(|| Error::UnsupportedPrecision {
                device: self.name().to_string(),
                precision: p,
                valid: self
                    .peer
                    .peak_tops
                    .keys()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Peak memory bandwidth, bytes per microsecond.
    pub fn bandwidth_bytes_per_us(&self) -> f64 {
        self.peer.memory_bandwidth_gbps * 1e3
    }

    pub fn memory_bytes(&self) -> f64 {
        self.peer.memory_capacity_gb * 1e9
    }

    /// Host link, bytes per microsecond, one direction.
    pub fn host_link_bytes_per_us(&self) -> f64 {
        self.arch.host_link_gbps * 1e3
    }

    /// How many H100 SMs' worth of gather concurrency the device has.
    pub fn gather_units(&self) -> f64 {
        match self.arch.sms {
            Some(n) => f64::from(n),
            None => {
                f64::from(H100_SMS) * self.peer.memory_bandwidth_gbps / h100().memory_bandwidth_gbps
            }
        }
    }
}

/// SMs of the calibrated H100.
pub const H100_SMS: u32 = 132;

fn bf16_class_peak(p: &Peer) -> Option<f64> {
    p.peak_tops
        .get(&Precision::Bf16)
        .or_else(|| p.peak_tops.get(&Precision::Fp16))
        .copied()
}

/// Every device the model covers, in the datasheet listing order.
pub fn names() -> Vec<&'static str> {
    seedchip_chip::peers::names()
        .into_iter()
        .filter(|n| ARCHES.iter().any(|a| a.name == *n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_datasheet_peer_has_an_arch() {
        assert_eq!(names(), seedchip_chip::peers::names());
        for n in names() {
            let d = Device::get(n).unwrap();
            assert!(d.units >= 1);
            assert!(d.gather_units() > 0.0);
        }
    }

    #[test]
    fn sm_equivalents_follow_peak_ratio() {
        let a = Device::get("ascend-910b").unwrap();
        assert!(a.units_are_sm_equivalents);
        // 320 TF / (989.4 TF / 132 SMs) = 42.7.
        assert_eq!(a.units, 43);
        assert_eq!(Device::get("h100-sxm").unwrap().units, 132);
    }

    #[test]
    fn unknown_device_and_precision_are_user_errors() {
        let e = Device::get("h900").unwrap_err().to_string();
        assert!(e.contains("h900") && e.contains("h100-sxm"), "{e}");
        let a100 = Device::get("a100-80g").unwrap();
        let e = a100.peak_tops(Precision::Fp8).unwrap_err().to_string();
        assert!(e.contains("fp8") && e.contains("int8"), "{e}");
    }
}
