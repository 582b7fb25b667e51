//! Where index bytes came from: input bindings, followed through DMA copies.
//!
//! A gather that meets an id outside its table usually means bad user data, not a bad program.
//! Saying which input element held the id turns "fault at pc 0x1a8" into "input `cat_3` element
//! 4711 is 10^9, but table `emb_3` has 10^5 rows". Byte spans of integer input bindings are
//! tracked as they are copied by `dma.copy`; any other write over a span ends it. Only copies
//! are followed (an index computed by arithmetic has no single origin).

use std::collections::BTreeMap;

use crate::fault::{IndexOrigin, Region};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    end: u64,
    binding: usize,
    /// Byte offset within the binding of the span's first byte.
    offset: u64,
}

/// Byte spans of memory whose contents are a copy of part of an input binding.
#[derive(Debug, Default, Clone)]
pub(crate) struct Origins {
    spans: BTreeMap<(Region, u64), Span>,
}

impl Origins {
    /// Marks `[start, start + len)` of `region` as holding input `binding` from byte 0 on.
    pub(crate) fn add_binding(&mut self, region: Region, start: u64, len: u64, binding: usize) {
        self.written(region, start, len);
        if len > 0 {
            self.spans.insert(
                (region, start),
                Span {
                    end: start + len,
                    binding,
                    offset: 0,
                },
            );
        }
    }

    /// Spans intersecting `[start, end)` of `region`, clipped to it.
    fn overlapping(&self, region: Region, start: u64, end: u64) -> Vec<(u64, Span)> {
        let mut out = Vec::new();
        if start >= end {
            return out;
        }
        // The span starting at or before `start` may reach into the range.
        if let Some((&(r, s), span)) = self.spans.range(..=(region, start)).next_back()
            && r == region
            && span.end > start
        {
            out.push((s, *span));
        }
        for (&(_, s), span) in self.spans.range((region, start + 1)..(region, end)) {
            out.push((s, *span));
        }
        out.into_iter()
            .map(|(s, span)| {
                let lo = s.max(start);
                (
                    lo,
                    Span {
                        end: span.end.min(end),
                        binding: span.binding,
                        offset: span.offset + (lo - s),
                    },
                )
            })
            .collect()
    }

    /// Forgets origins in `[start, start + len)`: the bytes were overwritten.
    pub(crate) fn written(&mut self, region: Region, start: u64, len: u64) {
        if self.spans.is_empty() || len == 0 {
            return;
        }
        let end = start.saturating_add(len);
        if start >= end {
            return;
        }
        let mut keys = Vec::new();
        if let Some((&(r, s), span)) = self.spans.range(..=(region, start)).next_back()
            && r == region
            && span.end > start
        {
            keys.push(s);
        }
        for (&(_, s), _) in self
            .spans
            .range((region, start.saturating_add(1))..(region, end))
        {
            keys.push(s);
        }
        for s in keys {
            let Some(span) = self.spans.remove(&(region, s)) else {
                continue;
            };
            if s < start {
                self.spans.insert((region, s), Span { end: start, ..span });
            }
            if span.end > end {
                self.spans.insert(
                    (region, end),
                    Span {
                        end: span.end,
                        binding: span.binding,
                        offset: span.offset + (end - s),
                    },
                );
            }
        }
    }

    /// Records a `dma.copy` of `rows` rows: destination rows inherit the source rows' origins.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn copied(
        &mut self,
        src_region: Region,
        src: u64,
        src_stride: u64,
        dst_region: Region,
        dst: u64,
        dst_stride: u64,
        rows: u64,
        row_bytes: u64,
        dst_extent: u64,
        src_extent: u64,
    ) {
        if self.spans.is_empty() {
            return;
        }
        let any = !self
            .overlapping(src_region, src, src.saturating_add(src_extent))
            .is_empty();
        let mut fresh = Vec::new();
        if any {
            for r in 0..rows {
                let s = src + r * src_stride;
                let d = dst + r * dst_stride;
                for (lo, span) in self.overlapping(src_region, s, s + row_bytes) {
                    fresh.push((
                        d + (lo - s),
                        Span {
                            end: d + (span.end - s),
                            ..span
                        },
                    ));
                }
            }
        }
        self.written(dst_region, dst, dst_extent);
        for (start, span) in fresh {
            self.written(dst_region, start, span.end - start);
            self.spans.insert((dst_region, start), span);
        }
    }

    /// The input element whose bytes are at `addr` (elements of `elem_bytes` bytes).
    pub(crate) fn lookup(
        &self,
        region: Region,
        addr: u64,
        elem_bytes: u64,
        names: &[String],
    ) -> Option<Box<IndexOrigin>> {
        let (_, span) = self
            .overlapping(region, addr, addr + 1)
            .into_iter()
            .next()?;
        Some(Box::new(IndexOrigin {
            input: names.get(span.binding)?.clone(),
            element: span.offset / elem_bytes.max(1),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_carry_origins_and_writes_end_them() {
        let names = vec!["idx".to_string()];
        let mut o = Origins::default();
        o.add_binding(Region::Hbm, 1000, 400, 0);
        // Copy elements 10..20 of the input to local 64.
        o.copied(
            Region::Hbm,
            1040,
            40,
            Region::Local(0),
            64,
            40,
            1,
            40,
            40,
            40,
        );
        let at = o.lookup(Region::Local(0), 64 + 8, 4, &names).unwrap();
        assert_eq!((at.input.as_str(), at.element), ("idx", 12));
        assert!(o.lookup(Region::Local(0), 104, 4, &names).is_none());
        // Overwrite the middle: both ends keep their origin.
        o.written(Region::Local(0), 72, 8);
        assert!(o.lookup(Region::Local(0), 72, 4, &names).is_none());
        assert_eq!(
            o.lookup(Region::Local(0), 68, 4, &names).unwrap().element,
            11
        );
        assert_eq!(
            o.lookup(Region::Local(0), 80, 4, &names).unwrap().element,
            14
        );
        // A second hop keeps the element numbering.
        o.copied(Region::Local(0), 80, 0, Region::Shared, 0, 0, 1, 8, 8, 8);
        assert_eq!(o.lookup(Region::Shared, 4, 4, &names).unwrap().element, 15);
    }
}
