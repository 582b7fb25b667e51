//! The request streams of SCALE-Sim's demand matrices, in closed form.
//!
//! SCALE-Sim builds, for each operand, a matrix with one line per cycle and one column per array
//! edge port; a fold's block of addresses is padded with idle lines (weight load, drain) and
//! skewed (column `c` delayed by `c` cycles). Every fold's block is a rectangle of `h` lines ×
//! `n` ports starting `p` lines into the fold, skewed or not. This module answers "how many
//! requests up to line `t`" and "on which line is request `e`" without building the matrix.

use seedchip_chip::Dataflow;

use super::{FoldGrid, cycles_per_fold};

/// Which operand's demand matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operand {
    Ifmap,
    Filter,
    Ofmap,
}

/// One fold's block of requests: lines `p .. p + h` (before skew), ports `0 .. n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pattern {
    pub p: u64,
    pub h: u64,
    pub n: u64,
    pub skew: bool,
}

/// `Σ_{y=1..x} clamp(y, 0, h)`, zero for `x ≤ 0`.
fn ramp_sum(x: i128, h: i128) -> i128 {
    if x <= 0 {
        0
    } else if x <= h {
        x * (x + 1) / 2
    } else {
        h * (h + 1) / 2 + (x - h) * h
    }
}

impl Pattern {
    pub fn count(&self) -> u64 {
        self.h * self.n
    }

    /// Requests on fold lines `0 ..= tau`.
    pub fn cum(&self, tau: u64) -> u64 {
        let x = tau as i128 - self.p as i128 + 1;
        let (h, n) = (self.h as i128, self.n as i128);
        let v = if self.skew {
            // Port c carries rows at lines p + c .. p + c + h: Σ_c clamp(x − c, 0, h).
            ramp_sum(x, h) - ramp_sum(x - n, h)
        } else {
            n * x.clamp(0, h)
        };
        v as u64
    }

    /// The fold line of request `e` (1-based, `1 ..= count`): the least `tau` with
    /// `cum(tau) ≥ e`.
    pub fn line_of(&self, e: u64, lines: u64) -> u64 {
        debug_assert!(e >= 1 && e <= self.count());
        let (mut lo, mut hi) = (0u64, lines - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.cum(mid) >= e {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// The first and last fold lines that carry a request.
    pub fn first_line(&self) -> u64 {
        self.p
    }

    #[cfg(test)]
    pub fn last_line(&self) -> u64 {
        self.p + self.h - 1 + if self.skew { self.n - 1 } else { 0 }
    }
}

/// The demand stream of one operand over all folds (column folds outer, row folds inner, as
/// SCALE-Sim orders them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stream {
    pub dataflow: Dataflow,
    pub operand: Operand,
    pub grid: FoldGrid,
    /// Lines per fold.
    pub cpf: u64,
}

impl Stream {
    pub fn new(dataflow: Dataflow, operand: Operand, grid: FoldGrid) -> Stream {
        Stream {
            dataflow,
            operand,
            grid,
            cpf: cycles_per_fold(dataflow, grid.rows, grid.cols, grid.t),
        }
    }

    pub fn folds(&self) -> u64 {
        self.grid.rf * self.grid.cf
    }

    pub fn total_lines(&self) -> u64 {
        self.folds() * self.cpf
    }

    /// The block of fold `(fr, fc)`.
    pub fn pattern(&self, fr: u64, fc: u64) -> Pattern {
        let g = &self.grid;
        let (r, t) = (g.rows, g.t);
        let (nr, nc) = (g.used_rows(fr), g.used_cols(fc));
        let skewed = |p, h, n| Pattern {
            p,
            h,
            n,
            skew: true,
        };
        // A stationary tile: loaded bottom-up, so its unused rows come first.
        let tile = Pattern {
            p: r - nr,
            h: nr,
            n: nc,
            skew: false,
        };
        match (self.dataflow, self.operand) {
            (Dataflow::Ws, Operand::Ifmap) => skewed(r, t, nr),
            (Dataflow::Ws, Operand::Filter) => tile,
            (Dataflow::Ws, Operand::Ofmap) => skewed(2 * r - 1, t, nc),
            (Dataflow::Os, Operand::Ifmap) => skewed(0, t, nr),
            (Dataflow::Os, Operand::Filter) => skewed(0, t, nc),
            (Dataflow::Os, Operand::Ofmap) => skewed(t - 1 + (r - nr), nr, nc),
            (Dataflow::Is, Operand::Ifmap) => tile,
            (Dataflow::Is, Operand::Filter) => skewed(r, t, nr),
            (Dataflow::Is, Operand::Ofmap) => skewed(2 * r - 1, t, nc),
        }
    }

    /// `(fr, fc)` of fold `j`.
    pub fn fold_coords(&self, j: u64) -> (u64, u64) {
        (j % self.grid.rf, j / self.grid.rf)
    }

    fn fold_count(&self, fr: u64, fc: u64) -> u128 {
        self.pattern(fr, fc).count() as u128
    }

    /// Requests in all row folds of column fold `fc`.
    fn column_group_count(&self, fc: u64) -> u128 {
        let rf = self.grid.rf;
        (rf - 1) as u128 * self.fold_count(0, fc) + self.fold_count(rf - 1, fc)
    }

    /// Requests in folds `0 .. j`.
    pub fn count_before_fold(&self, j: u64) -> u128 {
        let (fr, fc) = self.fold_coords(j);
        // Column folds before fc are all full-width (only the last one is partial), and row
        // folds before fr are all full-height.
        let groups = if fc == 0 {
            0
        } else {
            fc as u128 * self.column_group_count(0)
        };
        let partial = if fr == 0 {
            0
        } else {
            fr as u128 * self.fold_count(0, fc)
        };
        groups + partial
    }

    pub fn total(&self) -> u128 {
        self.count_before_fold_end()
    }

    fn count_before_fold_end(&self) -> u128 {
        let cf = self.grid.cf;
        (cf - 1) as u128 * self.column_group_count(0) + self.column_group_count(cf - 1)
    }

    /// Requests on global lines `0 ..= t`.
    pub fn cum(&self, t: u64) -> u128 {
        let j = t / self.cpf;
        if j >= self.folds() {
            return self.total();
        }
        let (fr, fc) = self.fold_coords(j);
        self.count_before_fold(j) + self.pattern(fr, fc).cum(t % self.cpf) as u128
    }

    /// The global line of request `e` (1-based).
    pub fn line_of(&self, e: u128) -> u64 {
        debug_assert!(e >= 1 && e <= self.total());
        // Find the fold by binary search on the fold prefix sums, then the line inside it.
        let (mut lo, mut hi) = (0u64, self.folds() - 1);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if self.count_before_fold(mid) < e {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let j = lo;
        let (fr, fc) = self.fold_coords(j);
        let local = (e - self.count_before_fold(j)) as u64;
        j * self.cpf + self.pattern(fr, fc).line_of(local, self.cpf)
    }

    /// The line of request `pos` (0-based) within fold `j`.
    pub fn line_in_fold(&self, j: u64, pos: u64) -> u64 {
        let (fr, fc) = self.fold_coords(j);
        j * self.cpf + self.pattern(fr, fc).line_of(pos + 1, self.cpf)
    }

    /// The first line carrying a request (fold 0 always has one).
    pub fn first_line(&self) -> u64 {
        self.pattern(0, 0).first_line()
    }

    /// The last line carrying a request.
    #[cfg(test)]
    pub fn last_line(&self) -> u64 {
        let j = self.folds() - 1;
        let (fr, fc) = self.fold_coords(j);
        j * self.cpf + self.pattern(fr, fc).last_line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systolic::{ArrayShape, Gemm};

    /// Builds SCALE-Sim's demand matrix the slow way (per line, count valid ports) for one
    /// operand, straight from the padding/skew recipe.
    fn brute_counts(s: &Stream) -> Vec<u64> {
        let mut lines = vec![0u64; s.total_lines() as usize];
        for j in 0..s.folds() {
            let (fr, fc) = s.fold_coords(j);
            let pat = s.pattern(fr, fc);
            for row in 0..pat.h {
                for port in 0..pat.n {
                    let line = pat.p + row + if pat.skew { port } else { 0 };
                    assert!(line < s.cpf, "request outside its fold");
                    lines[(j * s.cpf + line) as usize] += 1;
                }
            }
        }
        lines
    }

    #[test]
    fn cumulative_counts_and_inverse_match_brute_force() {
        for df in [Dataflow::Ws, Dataflow::Os, Dataflow::Is] {
            for (r, c, m, k, n) in [(4, 3, 7, 10, 5), (8, 8, 3, 17, 9), (2, 5, 1, 1, 12)] {
                let grid = FoldGrid::new(df, ArrayShape { rows: r, cols: c }, Gemm { m, k, n });
                for op in [Operand::Ifmap, Operand::Filter, Operand::Ofmap] {
                    let s = Stream::new(df, op, grid);
                    let lines = brute_counts(&s);
                    let mut acc = 0u128;
                    for (t, &v) in lines.iter().enumerate() {
                        let before = acc;
                        acc += v as u128;
                        assert_eq!(s.cum(t as u64), acc, "{df:?} {op:?} line {t}");
                        for e in before + 1..=acc {
                            assert_eq!(s.line_of(e), t as u64, "{df:?} {op:?} request {e}");
                        }
                    }
                    assert_eq!(s.total(), acc);
                    let first = lines.iter().position(|&v| v > 0).unwrap() as u64;
                    let last = lines.iter().rposition(|&v| v > 0).unwrap() as u64;
                    assert_eq!((s.first_line(), s.last_line()), (first, last));
                }
            }
        }
    }
}
