//! Off-chip memory kinds and their datasheet-class defaults.
//!
//! Defaults are typical JEDEC-class values for one speed grade per kind (JESD235 HBM2/2E,
//! JESD238 HBM3 and vendors' HBM3E briefs, JESD209-5 LPDDR5, JESD79-5 DDR5, JESD79-4 DDR4,
//! JESD79-3 DDR3). Timing parameters are in nanoseconds so they stay meaningful when a user
//! changes the data rate; the timing simulator converts them to its own clock.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MemoryKind {
    Hbm2,
    Hbm2e,
    Hbm3,
    Hbm3e,
    Lpddr5,
    Ddr5,
    Ddr4,
    Ddr3,
}

/// Per-kind defaults. `channels_per_stack` applies to HBM only; for the DDR family the channel
/// count is the chip's choice and has no default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KindDefaults {
    pub channels_per_stack: u32,
    pub channel_width_bits: u32,
    pub pseudo_channels: u32,
    pub data_rate_mtps: f64,
    /// Data rates outside this range are not this kind any more (a typo or the wrong kind).
    pub data_rate_range_mtps: (f64, f64),
    pub bank_groups: u32,
    pub banks_per_group: u32,
    pub timing: TimingDefaults,
    /// Street price, for the unit-cost model.
    pub usd_per_gb: f64,
    /// Memory PHY area on the logic die per stack (HBM) or per 32 data bits (DDR family).
    pub phy_mm2: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimingDefaults {
    pub trcd_ns: f64,
    pub trp_ns: f64,
    pub tcl_ns: f64,
    pub tras_ns: f64,
    pub trrd_ns: f64,
    pub tfaw_ns: f64,
    pub tccd_ns: f64,
    pub trfc_ns: f64,
    pub trefi_ns: f64,
    pub burst_length: u32,
}

impl MemoryKind {
    pub const ALL: [MemoryKind; 8] = [
        MemoryKind::Hbm2,
        MemoryKind::Hbm2e,
        MemoryKind::Hbm3,
        MemoryKind::Hbm3e,
        MemoryKind::Lpddr5,
        MemoryKind::Ddr5,
        MemoryKind::Ddr4,
        MemoryKind::Ddr3,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MemoryKind::Hbm2 => "hbm2",
            MemoryKind::Hbm2e => "hbm2e",
            MemoryKind::Hbm3 => "hbm3",
            MemoryKind::Hbm3e => "hbm3e",
            MemoryKind::Lpddr5 => "lpddr5",
            MemoryKind::Ddr5 => "ddr5",
            MemoryKind::Ddr4 => "ddr4",
            MemoryKind::Ddr3 => "ddr3",
        }
    }

    /// HBM is organised in stacks on an interposer; the others in channels on a board.
    pub fn is_hbm(self) -> bool {
        matches!(
            self,
            MemoryKind::Hbm2 | MemoryKind::Hbm2e | MemoryKind::Hbm3 | MemoryKind::Hbm3e
        )
    }

    pub fn defaults(self) -> KindDefaults {
        // PHY areas: LLMCompass cost model (HBM2e 10.45 mm² per 1024-bit stack interface, DDR5
        // 1.45 mm² per 32-bit channel); analog PHYs barely scale, so one value serves all nodes.
        // Prices: HBM $7/GB and DDR5 $2.4/GB from LLMCompass (DRAMeXchange, Oct 2023); the
        // others are assumptions marked (U) in docs/chip-format.md.
        match self {
            MemoryKind::Hbm2 => KindDefaults {
                channels_per_stack: 8,
                channel_width_bits: 128,
                pseudo_channels: 2,
                data_rate_mtps: 2400.0,
                data_rate_range_mtps: (1000.0, 2800.0),
                bank_groups: 4,
                banks_per_group: 4,
                timing: TimingDefaults {
                    trcd_ns: 14.0,
                    trp_ns: 14.0,
                    tcl_ns: 14.0,
                    tras_ns: 33.0,
                    trrd_ns: 4.0,
                    tfaw_ns: 16.0,
                    tccd_ns: 2.0,
                    trfc_ns: 350.0,
                    trefi_ns: 3900.0,
                    burst_length: 4,
                },
                usd_per_gb: 7.0,
                phy_mm2: 10.45,
            },
            MemoryKind::Hbm2e => KindDefaults {
                channels_per_stack: 8,
                channel_width_bits: 128,
                pseudo_channels: 2,
                data_rate_mtps: 3200.0,
                data_rate_range_mtps: (2000.0, 4000.0),
                bank_groups: 4,
                banks_per_group: 4,
                timing: TimingDefaults {
                    trcd_ns: 14.0,
                    trp_ns: 14.0,
                    tcl_ns: 14.0,
                    tras_ns: 33.0,
                    trrd_ns: 4.0,
                    tfaw_ns: 16.0,
                    tccd_ns: 1.25,
                    trfc_ns: 350.0,
                    trefi_ns: 3900.0,
                    burst_length: 4,
                },
                usd_per_gb: 7.0,
                phy_mm2: 10.45,
            },
            MemoryKind::Hbm3 => KindDefaults {
                channels_per_stack: 16,
                channel_width_bits: 64,
                pseudo_channels: 2,
                data_rate_mtps: 6400.0,
                data_rate_range_mtps: (4000.0, 7200.0),
                bank_groups: 4,
                banks_per_group: 4,
                timing: TimingDefaults {
                    trcd_ns: 14.0,
                    trp_ns: 14.0,
                    tcl_ns: 14.0,
                    tras_ns: 28.0,
                    trrd_ns: 2.5,
                    tfaw_ns: 12.0,
                    tccd_ns: 1.25,
                    trfc_ns: 350.0,
                    trefi_ns: 3900.0,
                    burst_length: 8,
                },
                usd_per_gb: 7.0,
                phy_mm2: 10.45,
            },
            MemoryKind::Hbm3e => KindDefaults {
                channels_per_stack: 16,
                channel_width_bits: 64,
                pseudo_channels: 2,
                data_rate_mtps: 9600.0,
                data_rate_range_mtps: (6400.0, 12000.0),
                bank_groups: 4,
                banks_per_group: 4,
                timing: TimingDefaults {
                    trcd_ns: 14.0,
                    trp_ns: 14.0,
                    tcl_ns: 14.0,
                    tras_ns: 28.0,
                    trrd_ns: 2.0,
                    tfaw_ns: 12.0,
                    tccd_ns: 0.83,
                    trfc_ns: 350.0,
                    trefi_ns: 3900.0,
                    burst_length: 8,
                },
                usd_per_gb: 10.0,
                phy_mm2: 10.45,
            },
            MemoryKind::Lpddr5 => KindDefaults {
                channels_per_stack: 1,
                channel_width_bits: 16,
                pseudo_channels: 1,
                data_rate_mtps: 6400.0,
                data_rate_range_mtps: (3200.0, 8533.0),
                bank_groups: 4,
                banks_per_group: 4,
                timing: TimingDefaults {
                    trcd_ns: 18.0,
                    trp_ns: 18.0,
                    tcl_ns: 17.5,
                    tras_ns: 42.0,
                    trrd_ns: 5.0,
                    tfaw_ns: 20.0,
                    tccd_ns: 2.5,
                    trfc_ns: 280.0,
                    trefi_ns: 3906.0,
                    burst_length: 16,
                },
                usd_per_gb: 3.0,
                phy_mm2: 1.45,
            },
            MemoryKind::Ddr5 => KindDefaults {
                channels_per_stack: 1,
                channel_width_bits: 32,
                pseudo_channels: 1,
                data_rate_mtps: 4800.0,
                data_rate_range_mtps: (3200.0, 8800.0),
                bank_groups: 8,
                banks_per_group: 4,
                timing: TimingDefaults {
                    trcd_ns: 16.0,
                    trp_ns: 16.0,
                    tcl_ns: 16.7,
                    tras_ns: 32.0,
                    trrd_ns: 5.0,
                    tfaw_ns: 21.0,
                    tccd_ns: 3.33,
                    trfc_ns: 295.0,
                    trefi_ns: 3900.0,
                    burst_length: 16,
                },
                usd_per_gb: 2.4,
                phy_mm2: 1.45,
            },
            MemoryKind::Ddr4 => KindDefaults {
                channels_per_stack: 1,
                channel_width_bits: 64,
                pseudo_channels: 1,
                data_rate_mtps: 3200.0,
                data_rate_range_mtps: (1600.0, 3600.0),
                bank_groups: 4,
                banks_per_group: 4,
                timing: TimingDefaults {
                    trcd_ns: 13.75,
                    trp_ns: 13.75,
                    tcl_ns: 13.75,
                    tras_ns: 32.0,
                    trrd_ns: 5.3,
                    tfaw_ns: 21.0,
                    tccd_ns: 2.5,
                    trfc_ns: 350.0,
                    trefi_ns: 7800.0,
                    burst_length: 8,
                },
                usd_per_gb: 2.0,
                phy_mm2: 1.45,
            },
            MemoryKind::Ddr3 => KindDefaults {
                channels_per_stack: 1,
                channel_width_bits: 64,
                pseudo_channels: 1,
                data_rate_mtps: 1600.0,
                data_rate_range_mtps: (800.0, 2400.0),
                bank_groups: 1,
                banks_per_group: 8,
                timing: TimingDefaults {
                    trcd_ns: 13.75,
                    trp_ns: 13.75,
                    tcl_ns: 13.75,
                    tras_ns: 35.0,
                    trrd_ns: 6.0,
                    tfaw_ns: 30.0,
                    tccd_ns: 5.0,
                    trfc_ns: 260.0,
                    trefi_ns: 7800.0,
                    burst_length: 8,
                },
                usd_per_gb: 1.5,
                phy_mm2: 1.45,
            },
        }
    }
}

impl std::fmt::Display for MemoryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
