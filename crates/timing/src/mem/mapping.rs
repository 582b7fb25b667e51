//! Physical address → (pseudo-channel, bank group, bank, row, column).
//!
//! A mapping lists six fields from the most to the least significant, e.g. `ro-ba-co-bg-ch-pc`
//! (the default), and an interleaving granularity: the lowest `interleave_bytes` of every
//! address stay in one row of one bank (the low column bits), and the fields above are sliced
//! in the order given. `co` is then the rest of the column. Field sizes need not be powers of
//! two (three HBM stacks give 24 channels): the address is read as a mixed-radix number, which
//! is exactly bit slicing when every size is a power of two (the common case takes a
//! shift-and-mask path). Addresses wrap modulo the capacity.
//!
//! Why the default `ro-ba-co-bg-ch-pc` with 256 B interleaving: embedding gathers read rows of
//! 64–512 B at random; keeping 256 B in one row costs one activation per gathered row instead
//! of one per burst, which is what bounds random-access bandwidth (tFAW). Channels and
//! pseudo-channels come next so a stream spreads over every channel after 256 B × channels;
//! bank groups come right above them so the next block a stream sends to the same channel is
//! in another bank group (tCCD_S instead of tCCD_L between the two); the column is above the
//! bank group so a stream stays in open rows; banks and rows on top.

use serde::{Deserialize, Serialize};

use super::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Field {
    Row,
    Bank,
    BankGroup,
    Column,
    Channel,
    PseudoChannel,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Row,
        Field::Bank,
        Field::BankGroup,
        Field::Column,
        Field::Channel,
        Field::PseudoChannel,
    ];

    pub fn token(self) -> &'static str {
        match self {
            Field::Row => "ro",
            Field::Bank => "ba",
            Field::BankGroup => "bg",
            Field::Column => "co",
            Field::Channel => "ch",
            Field::PseudoChannel => "pc",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressMapping {
    /// The six fields, most significant first.
    pub order: [Field; 6],
    /// Bytes kept together in one row before the next field changes.
    pub interleave_bytes: u32,
}

impl AddressMapping {
    pub const DEFAULT_ORDER: [Field; 6] = [
        Field::Row,
        Field::Bank,
        Field::Column,
        Field::BankGroup,
        Field::Channel,
        Field::PseudoChannel,
    ];

    pub fn default_with_interleave(interleave_bytes: u32) -> AddressMapping {
        AddressMapping {
            order: Self::DEFAULT_ORDER,
            interleave_bytes,
        }
    }

    /// Parses `ro-ba-co-bg-ch-pc` (most significant first; `-` optional, so DRAMsim3-style
    /// `robacobgchpc` works too).
    pub fn parse(order: &str, interleave_bytes: u32) -> Result<AddressMapping, Error> {
        let s: String = order.chars().filter(|c| *c != '-').collect();
        let bad = || {
            Error::Unsupported(format!(
                "address mapping `{order}`: expected the six fields ro, ba, bg, co, ch, pc once \
                 each, most significant first, e.g. ro-ba-co-bg-ch-pc"
            ))
        };
        if s.len() != 12 || !s.is_ascii() {
            return Err(bad());
        }
        let mut fields = Vec::with_capacity(6);
        for i in 0..6 {
            let tok = &s[2 * i..2 * i + 2];
            let f = Field::ALL
                .into_iter()
                .find(|f| f.token() == tok)
                .ok_or_else(bad)?;
            if fields.contains(&f) {
                return Err(bad());
            }
            fields.push(f);
        }
        Ok(AddressMapping {
            order: fields.try_into().expect("six fields"),
            interleave_bytes,
        })
    }

    pub fn order_string(&self) -> String {
        self.order
            .iter()
            .map(|f| f.token())
            .collect::<Vec<_>>()
            .join("-")
    }
}

impl std::fmt::Display for AddressMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} with {} B interleaving",
            self.order_string(),
            self.interleave_bytes
        )
    }
}

/// Where a burst lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Pseudo-channel index in the package: `channel × pseudo_channels + pseudo_channel`.
    pub pch: u32,
    pub bank_group: u32,
    /// Bank index within the pseudo-channel: `bank_group × banks_per_group + bank`.
    pub bank: u32,
    pub row: u32,
    /// Burst-sized column index within the row.
    pub column: u32,
}

/// A mapping compiled for one geometry.
#[derive(Debug, Clone)]
pub struct Decoder {
    burst_shift: u32,
    /// Radix of each field, least significant first, starting with the low column bits.
    radix: [u64; 7],
    what: [Slot; 7],
    /// All radices are powers of two: use shifts.
    pow2: bool,
    shifts: [u32; 7],
    pseudo_channels: u32,
    banks_per_group: u32,
    col_lo: u32,
    /// With power-of-two sizes: (shift, mask) of each field in the burst number.
    fields: Option<BitFields>,
}

#[derive(Debug, Clone, Copy)]
struct BitFields {
    col_lo: (u32, u64),
    col_hi: (u32, u64),
    ch: (u32, u64),
    pc: (u32, u64),
    bg: (u32, u64),
    ba: (u32, u64),
    row: (u32, u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    ColumnLow,
    F(Field),
}

impl Decoder {
    pub fn new(cfg: &super::MemConfig) -> Decoder {
        let burst = u64::from(cfg.burst_bytes());
        let col_lo = u64::from(cfg.mapping.interleave_bytes) / burst;
        let cols = u64::from(cfg.page_bytes) / burst;
        let radix_of = |f: Field| -> u64 {
            match f {
                Field::Row => u64::from(cfg.rows_per_bank),
                Field::Bank => u64::from(cfg.banks_per_group),
                Field::BankGroup => u64::from(cfg.bank_groups),
                Field::Column => cols / col_lo,
                Field::Channel => u64::from(cfg.channels),
                Field::PseudoChannel => u64::from(cfg.pseudo_channels),
            }
        };
        let mut radix = [col_lo; 7];
        let mut what = [Slot::ColumnLow; 7];
        for (i, f) in cfg.mapping.order.iter().rev().enumerate() {
            radix[i + 1] = radix_of(*f);
            what[i + 1] = Slot::F(*f);
        }
        let pow2 = radix.iter().all(|r| r.is_power_of_two());
        let shifts = radix.map(|r| r.trailing_zeros());
        let fields = pow2.then(|| {
            let mut pos = [(0u32, 0u64); 7];
            let mut at = 0;
            for i in 0..7 {
                pos[i] = (at, radix[i] - 1);
                at += shifts[i];
            }
            let of = |f: Field| {
                let i = what
                    .iter()
                    .position(|w| *w == Slot::F(f))
                    .expect("every field");
                pos[i]
            };
            BitFields {
                col_lo: pos[0],
                col_hi: of(Field::Column),
                ch: of(Field::Channel),
                pc: of(Field::PseudoChannel),
                bg: of(Field::BankGroup),
                ba: of(Field::Bank),
                row: of(Field::Row),
            }
        });
        Decoder {
            burst_shift: burst.trailing_zeros(),
            radix,
            what,
            pow2,
            shifts,
            pseudo_channels: cfg.pseudo_channels,
            banks_per_group: cfg.banks_per_group,
            col_lo: col_lo as u32,
            fields,
        }
    }

    /// Bursts kept together in one row (the interleaving granularity in bursts).
    pub fn bursts_per_block(&self) -> u32 {
        self.col_lo
    }

    pub fn burst_shift(&self) -> u32 {
        self.burst_shift
    }

    /// Location of the burst containing byte `addr`.
    pub fn decode(&self, addr: u64) -> Location {
        self.decode_burst(addr >> self.burst_shift)
    }

    /// (pseudo-channel, bank, row) of burst number `burst`: what the scheduler needs, the
    /// same as [`Self::decode_burst`]'s fields (inlined into the trace decoder, so the
    /// common bit-slicing case computes nothing else).
    #[inline(always)]
    pub fn pch_bank_row(&self, burst: u64) -> (u32, u32, u32) {
        if let Some(f) = &self.fields {
            let get = |(sh, mask): (u32, u64)| ((burst >> sh) & mask) as u32;
            return (
                get(f.ch) * self.pseudo_channels + get(f.pc),
                get(f.bg) * self.banks_per_group + get(f.ba),
                get(f.row),
            );
        }
        let l = self.decode_burst(burst);
        (l.pch, l.bank, l.row)
    }

    /// Location of burst number `burst` (address / burst bytes).
    #[inline]
    pub fn decode_burst(&self, burst: u64) -> Location {
        if let Some(f) = &self.fields {
            let get = |(sh, mask): (u32, u64)| ((burst >> sh) & mask) as u32;
            let bg = get(f.bg);
            return Location {
                pch: get(f.ch) * self.pseudo_channels + get(f.pc),
                bank_group: bg,
                bank: bg * self.banks_per_group + get(f.ba),
                row: get(f.row),
                column: get(f.col_hi) * self.col_lo + get(f.col_lo),
            };
        }
        let mut v = [0u64; 7];
        let mut x = burst;
        for (i, vi) in v.iter_mut().enumerate() {
            if self.pow2 {
                *vi = x & (self.radix[i] - 1);
                x >>= self.shifts[i];
            } else {
                *vi = x % self.radix[i];
                x /= self.radix[i];
            }
        }
        let (mut ch, mut pc, mut bg, mut ba, mut row, mut col_hi) = (0, 0, 0, 0, 0, 0);
        for (&val, what) in v.iter().zip(&self.what).skip(1) {
            let val = val as u32;
            match what {
                Slot::F(Field::Row) => row = val,
                Slot::F(Field::Bank) => ba = val,
                Slot::F(Field::BankGroup) => bg = val,
                Slot::F(Field::Column) => col_hi = val,
                Slot::F(Field::Channel) => ch = val,
                Slot::F(Field::PseudoChannel) => pc = val,
                Slot::ColumnLow => unreachable!("column-low slot is index 0"),
            }
        }
        Location {
            pch: ch * self.pseudo_channels + pc,
            bank_group: bg,
            bank: bg * self.banks_per_group + ba,
            row,
            column: col_hi * self.col_lo + v[0] as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_slicing_equals_mixed_radix_decoding() {
        let cfg = super::super::MemConfig::from_preset("seedchip-v1").unwrap();
        for order in [
            "ro-ba-co-bg-ch-pc",
            "ro-bg-ba-co-ch-pc",
            "ch-ro-pc-ba-co-bg",
        ] {
            let mut c = cfg.clone();
            c.mapping = AddressMapping::parse(order, 128).unwrap();
            let fast = Decoder::new(&c);
            let mut slow = fast.clone();
            slow.fields = None;
            let mut x = 0x1234_5678_9abc_def1u64;
            for _ in 0..1000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                assert_eq!(fast.decode(x >> 20), slow.decode(x >> 20), "{order}");
            }
        }
    }

    #[test]
    fn parse_round_trip_and_errors() {
        let m = AddressMapping::parse("ro-ba-co-bg-ch-pc", 256).unwrap();
        assert_eq!(m.order, AddressMapping::DEFAULT_ORDER);
        assert_eq!(m.order_string(), "ro-ba-co-bg-ch-pc");
        assert_eq!(
            AddressMapping::parse("robgbacochpc", 64).unwrap().order[1],
            Field::BankGroup
        );
        assert!(AddressMapping::parse("ro-ba-co-bg-ch", 64).is_err());
        assert!(AddressMapping::parse("ro-ro-co-bg-ch-pc", 64).is_err());
        assert!(AddressMapping::parse("ro-xx-co-bg-ch-pc", 64).is_err());
    }
}
