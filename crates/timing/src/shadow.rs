//! The data-movement shadow: the bytes the timing model needs in order to know *where* a
//! program reads, and nothing else.
//!
//! A gather's cost depends on its index values (which rows, how many distinct, which are
//! cached), and those live in SRAM arrays the program filled from its inputs and constants.
//! Running funcsim to learn them would cost more than the whole timing model (every GEMM
//! computed bit for bit), so the timing model keeps a shadow of the memories instead: model
//! inputs that are integers (the ids), the program's data segments (offsets, cache maps), and
//! every byte-exact move between them (`dma.copy`, same-dtype `vpu.copy`), applied at the
//! instruction's completion, the point after which a well-synchronised program may read the
//! result. Everything a computing instruction writes, embedding tables (procedural, never
//! materialised) and float inputs are *opaque*: their values are unknown to the shadow, and a
//! gather that takes its ids or offsets from opaque bytes is reported as unsupported rather
//! than timed with made-up ids. Unwritten memory reads as zeros, as in funcsim.
//!
//! The shadow is sparse (4 KiB pages allocated on first write), so a 100 GB table address
//! space costs nothing.

use std::collections::BTreeMap;

const PAGE_BITS: u32 = 12;
const PAGE: u64 = 1 << PAGE_BITS;

/// A memory as far as the shadow sees it: `Hbm`, `Shared`, or one core's `Local` SRAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Region {
    Hbm,
    Shared,
    Local(u32),
}

/// Disjoint half-open intervals `[start, end)`, merged when they touch.
#[derive(Debug, Clone, Default)]
pub struct Intervals {
    map: BTreeMap<u64, u64>,
}

impl Intervals {
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        // Already covered (accumulators and activations are re-marked every time they are
        // rewritten): nothing changes.
        if let Some((_, &pe)) = self.map.range(..=start).next_back()
            && pe >= end
        {
            return;
        }
        let (mut s, mut e) = (start, end);
        // Merge with an interval starting before `start` that reaches it.
        if let Some((&ps, &pe)) = self.map.range(..=s).next_back()
            && pe >= s
        {
            s = ps;
            e = e.max(pe);
        }
        while let Some((&k, &v)) = self.map.range(s..=e).next() {
            self.map.remove(&k);
            e = e.max(v);
        }
        self.map.insert(s, e);
    }

    pub fn remove(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let mut keep = Vec::new();
        let first = self
            .map
            .range(..start)
            .next_back()
            .filter(|(_, e)| **e > start)
            .map(|(&s, _)| s);
        let keys: Vec<u64> = first
            .into_iter()
            .chain(self.map.range(start..end).map(|(&k, _)| k))
            .collect();
        for k in keys {
            let e = self.map.remove(&k).expect("key just listed");
            if k < start {
                keep.push((k, start));
            }
            if e > end {
                keep.push((end, e));
            }
        }
        for (s, e) in keep {
            self.map.insert(s, e);
        }
    }

    /// The parts of `[start, end)` covered, in address order.
    pub fn pieces(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if start >= end {
            return out;
        }
        if let Some((_, &e)) = self.map.range(..start).next_back()
            && e > start
        {
            out.push((start, e.min(end)));
        }
        for (&s, &e) in self.map.range(start..end) {
            out.push((s, e.min(end)));
        }
        out
    }

    /// The first covered address in `[start, end)`.
    pub fn first_in(&self, start: u64, end: u64) -> Option<u64> {
        self.pieces(start, end).first().map(|p| p.0)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Sparse bytes: 4 KiB pages, zero until written.
#[derive(Debug, Clone, Default)]
struct SparseBytes {
    pages: BTreeMap<u64, Box<[u8]>>,
}

impl SparseBytes {
    fn read(&self, mut addr: u64, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            let page = addr >> PAGE_BITS;
            let off = (addr & (PAGE - 1)) as usize;
            let n = (PAGE as usize - off).min(out.len() - done);
            match self.pages.get(&page) {
                Some(p) => out[done..done + n].copy_from_slice(&p[off..off + n]),
                None => out[done..done + n].fill(0),
            }
            done += n;
            addr += n as u64;
        }
    }

    fn write(&mut self, mut addr: u64, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let page = addr >> PAGE_BITS;
            let off = (addr & (PAGE - 1)) as usize;
            let n = (PAGE as usize - off).min(data.len() - done);
            let all_zero = data[done..done + n].iter().all(|&b| b == 0);
            if all_zero && !self.pages.contains_key(&page) {
                // Zeros into an untouched page change nothing.
            } else {
                let p = self
                    .pages
                    .entry(page)
                    .or_insert_with(|| vec![0u8; PAGE as usize].into_boxed_slice());
                p[off..off + n].copy_from_slice(&data[done..done + n]);
            }
            done += n;
            addr += n as u64;
        }
    }
}

/// Why a read could not be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueAt {
    pub region: Region,
    pub addr: u64,
}

/// The shadow of every memory of a chip.
#[derive(Debug, Clone, Default)]
pub struct Shadow {
    bytes: BTreeMap<Region, SparseBytes>,
    opaque: BTreeMap<Region, Intervals>,
}

impl Shadow {
    pub fn new() -> Shadow {
        Shadow::default()
    }

    /// Known bytes (an input, a constant): stored, and no longer opaque.
    pub fn write(&mut self, r: Region, addr: u64, data: &[u8]) {
        self.bytes.entry(r).or_default().write(addr, data);
        if let Some(o) = self.opaque.get_mut(&r) {
            o.remove(addr, addr + data.len() as u64);
        }
    }

    /// Bytes whose values the shadow does not know (computed, procedural, float inputs).
    pub fn mark_opaque(&mut self, r: Region, addr: u64, len: u64) {
        self.opaque.entry(r).or_default().insert(addr, addr + len);
    }

    /// Reads known bytes; fails at the first opaque byte.
    pub fn read(&self, r: Region, addr: u64, len: u64) -> Result<Vec<u8>, OpaqueAt> {
        if let Some(a) = self
            .opaque
            .get(&r)
            .and_then(|o| o.first_in(addr, addr + len))
        {
            return Err(OpaqueAt { region: r, addr: a });
        }
        let mut out = vec![0u8; len as usize];
        if let Some(b) = self.bytes.get(&r) {
            b.read(addr, &mut out);
        }
        Ok(out)
    }

    /// `dst ← src` for `len` bytes, carrying opacity along with the values.
    pub fn copy(&mut self, dst: Region, dst_addr: u64, src: Region, src_addr: u64, len: u64) {
        if len == 0 {
            return;
        }
        let src_opaque = self
            .opaque
            .get(&src)
            .map(|o| o.pieces(src_addr, src_addr + len))
            .unwrap_or_default();
        let fully_opaque = src_opaque.len() == 1 && src_opaque[0] == (src_addr, src_addr + len);
        if !fully_opaque {
            let mut buf = vec![0u8; len as usize];
            if let Some(b) = self.bytes.get(&src) {
                b.read(src_addr, &mut buf);
            }
            self.bytes.entry(dst).or_default().write(dst_addr, &buf);
        }
        let o = self.opaque.entry(dst).or_default();
        o.remove(dst_addr, dst_addr + len);
        for (s, e) in src_opaque {
            o.insert(dst_addr + (s - src_addr), dst_addr + (e - src_addr));
        }
    }
}

impl SparseBytes {
    /// Whether any page overlapping `[start, end)` was ever written.
    fn any_page(&self, start: u64, end: u64) -> bool {
        end > start
            && self
                .pages
                .range(start >> PAGE_BITS..=(end - 1) >> PAGE_BITS)
                .next()
                .is_some()
    }
}

/// A 2-D block: `rows` rows of `row_bytes`, `stride` bytes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub region: Region,
    pub addr: u64,
    pub stride: u64,
}

impl Shadow {
    /// `dst ← src` row by row (a `dma.copy`). Equivalent to [`Shadow::copy`] per row, but a
    /// copy that touches no opaque bytes and no written pages costs a few map lookups instead
    /// of one per row: weight tiles, which are most of a program's copies, pass through here.
    pub fn copy_2d(&mut self, dst: Block, src: Block, rows: u64, row_bytes: u64) {
        if rows == 0 || row_bytes == 0 {
            return;
        }
        let span = |b: &Block| (b.addr, b.addr + (rows - 1) * b.stride + row_bytes);
        let (ss, se) = span(&src);
        let (ds, de) = span(&dst);
        let src_opaque = self
            .opaque
            .get(&src.region)
            .is_some_and(|o| o.first_in(ss, se).is_some());
        if src_opaque {
            for r in 0..rows {
                self.copy(
                    dst.region,
                    dst.addr + r * dst.stride,
                    src.region,
                    src.addr + r * src.stride,
                    row_bytes,
                );
            }
            return;
        }
        let src_written = self
            .bytes
            .get(&src.region)
            .is_some_and(|b| b.any_page(ss, se));
        let dst_written = self
            .bytes
            .get(&dst.region)
            .is_some_and(|b| b.any_page(ds, de));
        if src_written || dst_written {
            let (contiguous, n, len) = if src.stride == row_bytes && dst.stride == row_bytes {
                (true, 1, rows * row_bytes)
            } else {
                (false, rows, row_bytes)
            };
            let mut buf = vec![0u8; len as usize];
            for r in 0..n {
                let (so, d_o) = if contiguous {
                    (src.addr, dst.addr)
                } else {
                    (src.addr + r * src.stride, dst.addr + r * dst.stride)
                };
                match self.bytes.get(&src.region) {
                    Some(b) if src_written => b.read(so, &mut buf),
                    _ => buf.fill(0),
                }
                self.bytes.entry(dst.region).or_default().write(d_o, &buf);
            }
        }
        if let Some(o) = self.opaque.get_mut(&dst.region)
            && o.first_in(ds, de).is_some()
        {
            for r in 0..rows {
                let a = dst.addr + r * dst.stride;
                o.remove(a, a + row_bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_merge_and_split() {
        let mut iv = Intervals::default();
        iv.insert(10, 20);
        iv.insert(30, 40);
        iv.insert(20, 30);
        assert_eq!(iv.pieces(0, 100), vec![(10, 40)]);
        iv.remove(15, 35);
        assert_eq!(iv.pieces(0, 100), vec![(10, 15), (35, 40)]);
        assert_eq!(iv.first_in(15, 36), Some(35));
        assert_eq!(iv.first_in(15, 35), None);
        iv.remove(0, 100);
        assert!(iv.is_empty());
    }

    #[test]
    fn copies_carry_values_and_opacity() {
        let mut s = Shadow::new();
        s.write(Region::Hbm, 4094, &[1, 2, 3, 4]);
        s.mark_opaque(Region::Hbm, 5000, 8);
        s.copy(Region::Local(0), 0, Region::Hbm, 4094, 4);
        assert_eq!(s.read(Region::Local(0), 0, 4).unwrap(), vec![1, 2, 3, 4]);
        s.copy(Region::Shared, 100, Region::Hbm, 4998, 4);
        assert_eq!(
            s.read(Region::Shared, 100, 4),
            Err(OpaqueAt {
                region: Region::Shared,
                addr: 102
            })
        );
        assert_eq!(s.read(Region::Shared, 100, 2).unwrap(), vec![0, 0]);
        // A 2-D copy matches row-by-row copies, with and without opacity in the source.
        let mut t = s.clone();
        let (src, dst) = (
            Block {
                region: Region::Hbm,
                addr: 4090,
                stride: 910,
            },
            Block {
                region: Region::Local(1),
                addr: 8,
                stride: 16,
            },
        );
        s.copy_2d(dst, src, 3, 12);
        for r in 0..3 {
            t.copy(
                Region::Local(1),
                8 + 16 * r,
                Region::Hbm,
                4090 + 910 * r,
                12,
            );
        }
        for a in 0..64 {
            assert_eq!(
                s.read(Region::Local(1), a, 1),
                t.read(Region::Local(1), a, 1),
                "{a}"
            );
        }
        // Known bytes overwrite opacity.
        s.write(Region::Shared, 102, &[9, 9]);
        assert_eq!(s.read(Region::Shared, 100, 4).unwrap(), vec![0, 0, 9, 9]);
    }
}
