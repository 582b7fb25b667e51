//! The machine's memories: a sparse HBM with procedural embedding tables, the shared SRAM and
//! each core's local SRAM.
//!
//! HBM is tens of GiB and a full-size model's tables alone exceed a workstation's memory
//! (DLRM-v2: 204 M rows), so HBM is a map of 64 KiB pages holding only what was written, and a
//! procedural table's bytes are computed from its descriptor whenever they are read: the row's
//! f32 values from the IR's weight contract (`seedchip_ir::init`), stored in the table's dtype by
//! the numerics row format. Unwritten, non-table HBM reads as zero. A page is materialized (with
//! whatever it read as) on its first write, so writes into a table region behave like writes to
//! real memory; such a table is marked dirty and loses its fast paths.
//!
//! The SRAMs are plain byte vectors of the chip's sizes.

use std::collections::HashMap;

use seedchip_ir::init::{Distribution, Procedural};
use seedchip_isa::{DType, Table, TableSource};
use seedchip_numerics::float::{BF16, F16};
use seedchip_numerics::{Overflow, RowFormat};

use crate::fault::{FaultKind, Region};

const PAGE_BITS: u32 = 16;
const PAGE_BYTES: u64 = 1 << PAGE_BITS;

/// The numerics row format that stores an ISA table dtype.
pub(crate) fn row_format(dtype: DType) -> Option<RowFormat> {
    match dtype {
        DType::F32 => Some(RowFormat::F32),
        DType::F16 => Some(RowFormat::F16),
        DType::Bf16 => Some(RowFormat::Bf16),
        DType::Emb8 => Some(RowFormat::Int8Rowwise),
        _ => None,
    }
}

/// Hashes a row number with one multiply and a rotation: every gathered row is looked up here
/// (twice per row before this, with std's SipHash, ~1/3 of a gather's time). Row numbers are
/// not adversarial input, and lookups never depend on iteration order.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RowHasher(u64);

impl std::hash::Hasher for RowHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        // Fibonacci hashing; the rotation brings the well-mixed high bits down to the low
        // bits the table indexes with.
        self.0 = (self.0 ^ x)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

/// Decoded rows of a procedural table kept after first use: hot rows repeat across bags and
/// batches, and regenerating (hash, quantize, dequantize) costs more than pooling them.
#[derive(Debug, Default)]
pub(crate) struct RowCache {
    slots: HashMap<u64, usize, std::hash::BuildHasherDefault<RowHasher>>,
    data: Vec<f32>,
}

impl RowCache {
    pub(crate) fn get(&self, row: u64, dim: usize) -> Option<&[f32]> {
        self.slots
            .get(&row)
            .map(|&s| &self.data[s * dim..(s + 1) * dim])
    }

    fn clear(&mut self) -> usize {
        let n = self.data.len();
        self.slots.clear();
        self.data = Vec::new();
        n
    }
}

/// A table whose rows are computed on demand.
#[derive(Debug)]
pub(crate) struct ProcTable {
    pub base: u64,
    pub rows: u64,
    pub dim: u32,
    pub dtype: DType,
    pub format: RowFormat,
    pub row_bytes: u64,
    generator: Procedural,
    /// Some page inside the table was written: its bytes are no longer the generated ones.
    pub dirty: bool,
    pub cache: RowCache,
}

impl ProcTable {
    fn end(&self) -> u64 {
        self.base + self.rows * self.row_bytes
    }

    /// Row `row` decoded to f32, exactly as the gather unit would decode the stored bytes.
    pub(crate) fn row_f32(&self, row: u64, out: &mut [f32], scratch: &mut Vec<u8>) {
        let dim = self.dim as usize;
        debug_assert_eq!(out.len(), dim);
        self.generator.fill(row * u64::from(self.dim), out);
        match self.format {
            RowFormat::F32 => {}
            RowFormat::F16 => {
                for v in out.iter_mut() {
                    *v = F16.decode(F16.encode(*v, Overflow::Saturate));
                }
            }
            RowFormat::Bf16 => {
                for v in out.iter_mut() {
                    *v = BF16.decode(BF16.encode(*v, Overflow::Saturate));
                }
            }
            RowFormat::Int8Rowwise | RowFormat::Int8RowwiseF16 => {
                scratch.resize(self.row_bytes as usize, 0);
                self.format.encode_row(out, scratch).expect(
                    "procedural rows are finite and within the int8 row range (checked at load)",
                );
                self.format
                    .decode_row(scratch, out)
                    .expect("row length matches its format");
            }
        }
    }

    /// Row `row` as stored bytes.
    fn row_bytes_into(&self, row: u64, out: &mut [u8]) {
        let mut values = vec![0f32; self.dim as usize];
        self.generator.fill(row * u64::from(self.dim), &mut values);
        self.format
            .encode_row(&values, out)
            .expect("procedural rows are finite and within the int8 row range (checked at load)");
    }

    /// Copies the generated bytes of `[addr, addr + out.len())` ∩ this table into `out`
    /// (`out[0]` is `addr`).
    fn fill(&self, addr: u64, out: &mut [u8]) {
        let start = addr.max(self.base);
        let end = (addr + out.len() as u64).min(self.end());
        if start >= end {
            return;
        }
        let rb = self.row_bytes;
        let mut row_buf = vec![0u8; rb as usize];
        let mut row = (start - self.base) / rb;
        while self.base + row * rb < end {
            let row_start = self.base + row * rb;
            self.row_bytes_into(row, &mut row_buf);
            let lo = row_start.max(start);
            let hi = (row_start + rb).min(end);
            out[(lo - addr) as usize..(hi - addr) as usize]
                .copy_from_slice(&row_buf[(lo - row_start) as usize..(hi - row_start) as usize]);
            row += 1;
        }
    }
}

/// Off-chip memory: sparse pages plus procedural tables.
#[derive(Debug)]
pub(crate) struct Hbm {
    pub capacity: u64,
    pages: HashMap<u64, Box<[u8]>>,
    /// Sorted by base; non-overlapping (the program container guarantees it).
    pub procs: Vec<ProcTable>,
    /// f32 values the row caches may still hold.
    pub cache_budget: usize,
}

impl Hbm {
    pub(crate) fn new(capacity: u64, cache_budget: usize) -> Hbm {
        Hbm {
            capacity,
            pages: HashMap::new(),
            procs: Vec::new(),
            cache_budget,
        }
    }

    /// Registers a program table: stored bytes go into pages, procedural ones are described.
    /// The caller has checked that the table fits in HBM.
    pub(crate) fn add_table(&mut self, t: &Table) -> Result<(), String> {
        let format = row_format(t.dtype)
            .ok_or_else(|| format!("table `{}`: dtype {} is not a table dtype", t.name, t.dtype))?;
        let row_bytes = format.row_bytes(t.dim as usize) as u64;
        match &t.source {
            TableSource::Bytes(b) => self.write(t.hbm, b),
            TableSource::Procedural { seed, param, dist } => {
                let seedchip_isa::Distribution::Uniform { bound } = *dist;
                let bound = bound.get();
                if format == RowFormat::Int8Rowwise
                    && bound.partial_cmp(&seedchip_numerics::embedding::INT8_ROW_VALUE_LIMIT)
                        != Some(std::cmp::Ordering::Less)
                {
                    return Err(format!(
                        "table `{}`: uniform bound {bound} exceeds the int8 row format's range",
                        t.name
                    ));
                }
                let generator = Procedural::new(*seed, param, Distribution::Uniform { bound });
                let p = ProcTable {
                    base: t.hbm,
                    rows: t.rows,
                    dim: t.dim,
                    dtype: t.dtype,
                    format,
                    row_bytes,
                    generator,
                    dirty: false,
                    cache: RowCache::default(),
                };
                let at = self.procs.partition_point(|q| q.base < p.base);
                self.procs.insert(at, p);
                // Pages created before the table existed (data segments sharing a page with
                // it) hold zeros where its rows are: give them the generated bytes.
                let proc = &self.procs[at];
                let (first, last) = (
                    proc.base >> PAGE_BITS,
                    (proc.end().max(proc.base + 1) - 1) >> PAGE_BITS,
                );
                let mut touched = false;
                for index in first..=last {
                    if let Some(page) = self.pages.get_mut(&index) {
                        proc.fill(index << PAGE_BITS, page);
                        touched = true;
                    }
                }
                if touched {
                    let (base, end) = (proc.base, proc.end());
                    self.mark_dirty(base, end);
                }
            }
        }
        Ok(())
    }

    /// Index of the procedural table exactly at `base` with this layout, if its bytes are
    /// still the generated ones.
    pub(crate) fn clean_proc_at(&self, base: u64, dim: u32, dtype: DType) -> Option<usize> {
        let i = self.procs.partition_point(|q| q.base < base);
        let p = self.procs.get(i)?;
        (p.base == base && p.dim == dim && p.dtype == dtype && !p.dirty).then_some(i)
    }

    /// Decodes and keeps the given rows of procedural table `t` (those not yet cached, while
    /// the budget lasts). Generation runs in parallel; the results do not depend on it.
    pub(crate) fn cache_rows(&mut self, t: usize, rows: &[u64]) {
        use rayon::prelude::*;
        let p = &mut self.procs[t];
        let dim = p.dim as usize;
        let mut fresh = Vec::new();
        for &r in rows {
            if self.cache_budget < dim {
                break;
            }
            let slot = p.cache.data.len() / dim + fresh.len();
            if let std::collections::hash_map::Entry::Vacant(e) = p.cache.slots.entry(r) {
                e.insert(slot);
                fresh.push(r);
                self.cache_budget -= dim;
            }
        }
        if fresh.is_empty() {
            return;
        }
        let old = p.cache.data.len();
        p.cache.data.resize(old + fresh.len() * dim, 0.0);
        let mut data = std::mem::take(&mut p.cache.data);
        {
            let p = &*p;
            let chunks = data[old..].par_chunks_mut(dim).zip(fresh.par_iter());
            chunks.for_each_init(Vec::new, |scratch, (out, &r)| p.row_f32(r, out, scratch));
        }
        p.cache.data = data;
    }

    /// Reads `out.len()` bytes at `addr` (the caller checked the range).
    pub(crate) fn read(&self, addr: u64, out: &mut [u8]) {
        let mut pos = 0usize;
        while pos < out.len() {
            let a = addr + pos as u64;
            let off = (a & (PAGE_BYTES - 1)) as usize;
            let n = (PAGE_BYTES as usize - off).min(out.len() - pos);
            let dst = &mut out[pos..pos + n];
            match self.pages.get(&(a >> PAGE_BITS)) {
                Some(page) => dst.copy_from_slice(&page[off..off + n]),
                None => {
                    dst.fill(0);
                    self.fill_procs(a, dst);
                }
            }
            pos += n;
        }
    }

    fn fill_procs(&self, addr: u64, out: &mut [u8]) {
        let end = addr + out.len() as u64;
        let first = self.procs.partition_point(|p| p.end() <= addr);
        for p in &self.procs[first..] {
            if p.base >= end {
                break;
            }
            p.fill(addr, out);
        }
    }

    /// Writes `data` at `addr` (the caller checked the range).
    pub(crate) fn write(&mut self, addr: u64, data: &[u8]) {
        let mut pos = 0usize;
        while pos < data.len() {
            let a = addr + pos as u64;
            let page_index = a >> PAGE_BITS;
            let off = (a & (PAGE_BYTES - 1)) as usize;
            let n = (PAGE_BYTES as usize - off).min(data.len() - pos);
            if !self.pages.contains_key(&page_index) {
                let page_addr = page_index << PAGE_BITS;
                let mut page = vec![0u8; PAGE_BYTES as usize].into_boxed_slice();
                self.fill_procs(page_addr, &mut page);
                self.mark_dirty(page_addr, page_addr + PAGE_BYTES);
                self.pages.insert(page_index, page);
            }
            let page = self
                .pages
                .get_mut(&page_index)
                .expect("page was just inserted");
            page[off..off + n].copy_from_slice(&data[pos..pos + n]);
            pos += n;
        }
    }

    fn mark_dirty(&mut self, start: u64, end: u64) {
        let mut freed = 0;
        for p in &mut self.procs {
            if p.base < end && start < p.end() && !p.dirty {
                p.dirty = true;
                freed += p.cache.clear();
            }
        }
        self.cache_budget += freed;
    }
}

/// All memories of the machine.
#[derive(Debug)]
pub(crate) struct Memory {
    pub hbm: Hbm,
    pub shared: Vec<u8>,
    /// Indexed by core id.
    pub locals: Vec<Vec<u8>>,
    pub local_bytes: u64,
}

impl Memory {
    pub(crate) fn size(&self, region: Region) -> u64 {
        match region {
            Region::Hbm => self.hbm.capacity,
            Region::Shared => self.shared.len() as u64,
            Region::Local(_) => self.local_bytes,
        }
    }

    /// Checks that `extent` bytes at `addr` lie inside `region` and that `addr` is a multiple of
    /// `align`. An empty access touches nothing and always passes.
    pub(crate) fn check(
        &self,
        operand: &'static str,
        region: Region,
        addr: u64,
        extent: Option<u64>,
        align: u64,
    ) -> Result<(), FaultKind> {
        let size = self.size(region);
        let Some(extent) = extent else {
            return Err(FaultKind::OutOfBounds {
                operand,
                region,
                addr,
                len: u64::MAX,
                size,
            });
        };
        if extent == 0 {
            return Ok(());
        }
        if align > 1 && !addr.is_multiple_of(align) {
            return Err(FaultKind::Misaligned {
                operand,
                region,
                addr,
                align,
            });
        }
        if region != Region::Hbm && extent > size {
            return Err(FaultKind::SramOverflow {
                operand,
                region,
                bytes: extent,
                capacity: size,
            });
        }
        match addr.checked_add(extent) {
            Some(end) if end <= size => Ok(()),
            _ => Err(FaultKind::OutOfBounds {
                operand,
                region,
                addr,
                len: extent,
                size,
            }),
        }
    }

    fn sram(&self, region: Region) -> Option<&[u8]> {
        match region {
            Region::Hbm => None,
            Region::Shared => Some(&self.shared),
            Region::Local(c) => Some(&self.locals[c as usize]),
        }
    }

    fn sram_mut(&mut self, region: Region) -> Option<&mut Vec<u8>> {
        match region {
            Region::Hbm => None,
            Region::Shared => Some(&mut self.shared),
            Region::Local(c) => Some(&mut self.locals[c as usize]),
        }
    }

    /// `len` checked bytes of an SRAM from `addr`, borrowed; `None` for HBM.
    pub(crate) fn sram_span(&self, region: Region, addr: u64, len: u64) -> Option<&[u8]> {
        self.sram(region)
            .map(|s| &s[addr as usize..(addr + len) as usize])
    }

    /// [`Memory::sram_span`], writable.
    pub(crate) fn sram_span_mut(
        &mut self,
        region: Region,
        addr: u64,
        len: u64,
    ) -> Option<&mut [u8]> {
        self.sram_mut(region)
            .map(|s| &mut s[addr as usize..(addr + len) as usize])
    }

    /// Checked SRAM spans `srcs` (region, address, length) borrowed read-only together with
    /// the SRAM span `dst` borrowed writable, so that an instruction can compute straight into
    /// its destination; `None` when any span is in HBM or a source shares a byte with `dst`.
    pub(crate) fn sram_split<const N: usize>(
        &mut self,
        srcs: [(Region, u64, u64); N],
        dst: (Region, u64, u64),
    ) -> Option<([&[u8]; N], &mut [u8])> {
        let (dr, d0, dlen) = dst;
        let d1 = d0 + dlen;
        if dr == Region::Hbm
            || srcs
                .iter()
                .any(|&(r, s0, len)| r == Region::Hbm || (r == dr && s0 < d1 && d0 < s0 + len))
        {
            return None;
        }
        let mut out = None;
        let mut around: (&[u8], &[u8]) = (&[], &[]);
        let mut others: Vec<(Region, &[u8])> = Vec::new();
        let srams = std::iter::once((Region::Shared, self.shared.as_mut_slice())).chain(
            self.locals
                .iter_mut()
                .enumerate()
                .map(|(c, l)| (Region::Local(c as u32), l.as_mut_slice())),
        );
        for (r, buf) in srams {
            if r == dr {
                let (left, rest) = buf.split_at_mut(d0 as usize);
                let (mid, right) = rest.split_at_mut(dlen as usize);
                out = Some(mid);
                around = (left, right);
            } else {
                others.push((r, buf));
            }
        }
        let out = out?;
        let (left, right) = around;
        let pick = |(r, s0, len): (Region, u64, u64)| -> &[u8] {
            let (s0, len) = (s0 as usize, len as usize);
            if r == dr {
                if s0 + len <= d0 as usize {
                    &left[s0..s0 + len]
                } else {
                    let s = s0 - d1 as usize;
                    &right[s..s + len]
                }
            } else {
                let buf = others
                    .iter()
                    .find(|(x, _)| *x == r)
                    .map_or(&[][..], |(_, b)| *b);
                &buf[s0..s0 + len]
            }
        };
        Some((srcs.map(pick), out))
    }

    /// Reads checked bytes.
    pub(crate) fn read(&self, region: Region, addr: u64, out: &mut [u8]) {
        match self.sram(region) {
            Some(s) => out.copy_from_slice(&s[addr as usize..addr as usize + out.len()]),
            None => self.hbm.read(addr, out),
        }
    }

    /// Writes checked bytes.
    pub(crate) fn write(&mut self, region: Region, addr: u64, data: &[u8]) {
        match self.sram_mut(region) {
            Some(s) => s[addr as usize..addr as usize + data.len()].copy_from_slice(data),
            None => self.hbm.write(addr, data),
        }
    }

    /// Reads a checked strided 2-D block: `rows` rows of `row_bytes` bytes, `stride` bytes
    /// apart, packed back to back.
    pub(crate) fn read_rows(
        &self,
        region: Region,
        addr: u64,
        rows: u64,
        row_bytes: u64,
        stride: u64,
    ) -> Vec<u8> {
        let rb = row_bytes as usize;
        let mut out = vec![0u8; rows as usize * rb];
        if rb == 0 {
            return out;
        }
        if stride == row_bytes {
            self.read(region, addr, &mut out);
            return out;
        }
        match self.sram(region) {
            Some(s) => {
                for (r, dst) in out.chunks_exact_mut(rb).enumerate() {
                    let a = (addr + r as u64 * stride) as usize;
                    dst.copy_from_slice(&s[a..a + rb]);
                }
            }
            None => {
                for (r, dst) in out.chunks_exact_mut(rb).enumerate() {
                    self.hbm.read(addr + r as u64 * stride, dst);
                }
            }
        }
        out
    }

    /// Copies a checked strided 2-D block (`rows` rows of `rb` bytes, source rows `ss` bytes
    /// apart, destination rows `ds` apart) without an intermediate buffer. Rows are copied in
    /// increasing order, which gives the bytes of [`Memory::read_rows`] then
    /// [`Memory::write_rows`] whenever source and destination bytes do not overlap (the caller
    /// guarantees that within one memory; different memories never overlap).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn copy_rows(
        &mut self,
        sr: Region,
        src: u64,
        ss: u64,
        dr: Region,
        dst: u64,
        ds: u64,
        rows: u64,
        rb: u64,
    ) {
        let n = rb as usize;
        // One block when both sides are contiguous.
        let (rows, n, ss, ds) = if ss == rb && ds == rb {
            (1, n * rows as usize, 0, 0)
        } else {
            (rows, n, ss, ds)
        };
        let at = |base: u64, stride: u64, r: u64| (base + r * stride) as usize;
        let Memory {
            hbm,
            shared,
            locals,
            ..
        } = self;
        match (sr, dr) {
            (Region::Hbm, Region::Hbm) => {
                let mut buf = vec![0u8; n];
                for r in 0..rows {
                    hbm.read(src + r * ss, &mut buf);
                    hbm.write(dst + r * ds, &buf);
                }
            }
            (Region::Hbm, _) => {
                let d = match dr {
                    Region::Shared => shared,
                    Region::Local(c) => &mut locals[c as usize],
                    Region::Hbm => unreachable!("handled above"),
                };
                for r in 0..rows {
                    let a = at(dst, ds, r);
                    hbm.read(src + r * ss, &mut d[a..a + n]);
                }
            }
            (_, Region::Hbm) => {
                let s = match sr {
                    Region::Shared => &shared[..],
                    Region::Local(c) => &locals[c as usize][..],
                    Region::Hbm => unreachable!("handled above"),
                };
                for r in 0..rows {
                    let a = at(src, ss, r);
                    hbm.write(dst + r * ds, &s[a..a + n]);
                }
            }
            (a, b) if a == b => {
                let m = match a {
                    Region::Shared => shared,
                    Region::Local(c) => &mut locals[c as usize],
                    Region::Hbm => unreachable!("handled above"),
                };
                for r in 0..rows {
                    let s0 = at(src, ss, r);
                    m.copy_within(s0..s0 + n, at(dst, ds, r));
                }
            }
            (Region::Shared, Region::Local(c)) => {
                let d = &mut locals[c as usize];
                for r in 0..rows {
                    let (s0, d0) = (at(src, ss, r), at(dst, ds, r));
                    d[d0..d0 + n].copy_from_slice(&shared[s0..s0 + n]);
                }
            }
            (Region::Local(c), Region::Shared) => {
                let s = &locals[c as usize];
                for r in 0..rows {
                    let (s0, d0) = (at(src, ss, r), at(dst, ds, r));
                    shared[d0..d0 + n].copy_from_slice(&s[s0..s0 + n]);
                }
            }
            (Region::Local(c1), Region::Local(c2)) => {
                let (c1, c2) = (c1 as usize, c2 as usize);
                let (s, d) = if c1 < c2 {
                    let (lo, hi) = locals.split_at_mut(c2);
                    (&lo[c1], &mut hi[0])
                } else {
                    let (lo, hi) = locals.split_at_mut(c1);
                    (&hi[0], &mut lo[c2])
                };
                for r in 0..rows {
                    let (s0, d0) = (at(src, ss, r), at(dst, ds, r));
                    d[d0..d0 + n].copy_from_slice(&s[s0..s0 + n]);
                }
            }
            (Region::Shared, Region::Shared) => unreachable!("equal regions are handled above"),
        }
    }

    /// Writes a checked strided 2-D block (rows in increasing order, so overlapping rows end
    /// with the last row's bytes).
    pub(crate) fn write_rows(
        &mut self,
        region: Region,
        addr: u64,
        row_bytes: u64,
        stride: u64,
        data: &[u8],
    ) {
        let rb = row_bytes as usize;
        if rb == 0 {
            return;
        }
        if stride == row_bytes {
            self.write(region, addr, data);
            return;
        }
        match self.sram_mut(region) {
            Some(s) => {
                for (r, src) in data.chunks_exact(rb).enumerate() {
                    let a = (addr + r as u64 * stride) as usize;
                    s[a..a + rb].copy_from_slice(src);
                }
            }
            None => {
                for (r, src) in data.chunks_exact(rb).enumerate() {
                    self.hbm.write(addr + r as u64 * stride, src);
                }
            }
        }
    }

    /// A checked 2-D block, packed row-major: borrowed straight from SRAM when its rows are
    /// contiguous, else copied.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn view(
        &self,
        region: Region,
        addr: u64,
        rows: u64,
        cols: u64,
        ld: u64,
        inc: u64,
        es: u64,
    ) -> std::borrow::Cow<'_, [u8]> {
        if let Some(s) = self.sram(region)
            && inc == 1
            && (rows <= 1 || ld == cols)
        {
            let a = addr as usize;
            return std::borrow::Cow::Borrowed(&s[a..a + (rows * cols * es) as usize]);
        }
        std::borrow::Cow::Owned(self.read_strided(region, addr, rows, cols, ld, inc, es))
    }

    /// Reads a checked 2-D block of `es`-byte elements with a row stride and a column stride
    /// (both in elements), packed row-major. Broadcast operands use stride 0.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn read_strided(
        &self,
        region: Region,
        addr: u64,
        rows: u64,
        cols: u64,
        ld: u64,
        inc: u64,
        es: u64,
    ) -> Vec<u8> {
        if inc == 1 {
            return self.read_rows(region, addr, rows, cols * es, ld * es);
        }
        let e = es as usize;
        let mut out = vec![0u8; (rows * cols) as usize * e];
        let mut tmp = vec![0u8; e];
        for r in 0..rows {
            for c in 0..cols {
                let a = addr + (r * ld + c * inc) * es;
                let at = ((r * cols + c) as usize) * e;
                match self.sram(region) {
                    Some(s) => out[at..at + e].copy_from_slice(&s[a as usize..a as usize + e]),
                    None => {
                        self.hbm.read(a, &mut tmp);
                        out[at..at + e].copy_from_slice(&tmp);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedchip_isa::{Distribution as IsaDist, F32Imm};

    fn table(dtype: DType) -> Table {
        Table {
            name: "t".into(),
            hbm: 0x1_0010,
            rows: 5000,
            dim: 24,
            dtype,
            source: TableSource::Procedural {
                seed: 7,
                param: "emb.weight".into(),
                dist: IsaDist::Uniform {
                    bound: F32Imm::new(0.05),
                },
            },
        }
    }

    #[test]
    fn data_written_before_a_table_does_not_hide_its_rows() {
        let t = table(DType::Bf16);
        let mut hbm = Hbm::new(1 << 30, 0);
        // A data segment ending in the table's first page, written before the table exists.
        hbm.write(0x1_0000, &[1, 2, 3, 4]);
        hbm.add_table(&t).unwrap();
        let mut fresh = Hbm::new(1 << 30, 0);
        fresh.add_table(&t).unwrap();
        let (mut a, mut b) = (vec![0u8; 256], vec![0u8; 256]);
        hbm.read(t.hbm, &mut a);
        fresh.read(t.hbm, &mut b);
        assert_eq!(a, b);
        assert!(a.iter().any(|&x| x != 0));
        let mut head = [0u8; 4];
        hbm.read(0x1_0000, &mut head);
        assert_eq!(head, [1, 2, 3, 4]);
    }

    #[test]
    fn procedural_bytes_match_the_row_format_and_survive_page_writes() {
        for dtype in [DType::F32, DType::F16, DType::Bf16, DType::Emb8] {
            let t = table(dtype);
            let mut hbm = Hbm::new(1 << 30, 1 << 20);
            hbm.add_table(&t).unwrap();
            let format = row_format(dtype).unwrap();
            let rb = format.row_bytes(24);
            let g = Procedural::new(7, "emb.weight", Distribution::Uniform { bound: 0.05 });
            for row in [0u64, 1, 2730, 4999] {
                let mut vals = vec![0f32; 24];
                g.fill(row * 24, &mut vals);
                let mut want = vec![0u8; rb];
                format.encode_row(&vals, &mut want).unwrap();
                let mut got = vec![0u8; rb];
                hbm.read(t.hbm + row * rb as u64, &mut got);
                assert_eq!(got, want, "{dtype} row {row}");
                let mut dec = vec![0f32; 24];
                hbm.procs[0].row_f32(row, &mut dec, &mut Vec::new());
                let mut want_dec = vec![0f32; 24];
                format.decode_row(&want, &mut want_dec).unwrap();
                assert_eq!(dec, want_dec);
            }
            // A write in the middle of the table keeps every other byte as generated.
            let before = {
                let mut b = vec![0u8; 3 * rb];
                hbm.read(t.hbm + 9 * rb as u64, &mut b);
                b
            };
            hbm.write(t.hbm + 10 * rb as u64, &[0xAB]);
            assert!(hbm.procs[0].dirty);
            let mut after = vec![0u8; 3 * rb];
            hbm.read(t.hbm + 9 * rb as u64, &mut after);
            assert_eq!(after[rb], 0xAB);
            assert_eq!(after[..rb], before[..rb]);
            assert_eq!(after[rb + 1..], before[rb + 1..]);
        }
    }

    #[test]
    fn unwritten_memory_reads_zero_and_writes_cross_pages() {
        let mut hbm = Hbm::new(1 << 32, 0);
        let mut b = vec![1u8; 10];
        hbm.read(123, &mut b);
        assert_eq!(b, vec![0; 10]);
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        hbm.write(PAGE_BYTES - 7, &data);
        let mut back = vec![0u8; data.len()];
        hbm.read(PAGE_BYTES - 7, &mut back);
        assert_eq!(back, data);
    }
}
