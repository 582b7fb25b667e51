//! A keyed bijection on `[0, rows)`, used to scatter popularity ranks over table rows.
//!
//! Zipf draws ranks (rank 0 hottest). If rank were row, the hottest rows of every table would
//! sit at the table's start, which makes caches, sharding and DRAM row-buffer behaviour look
//! better than they are. A materialised shuffle would cost 320 MB for one 40 M-row table and
//! 8 GB for a 10^9-row one, so the permutation is computed instead: a balanced Feistel network
//! on the smallest even bit width `2h` with `2^(2h) ≥ rows`, made to stay inside `[0, rows)` by
//! *cycle walking* (re-encrypt until the value falls in range). Because `2^(2h) < 4·rows`, the
//! expected number of walks per call is below 4, and every call costs O(1) memory.
//!
//! Cycle walking gives a bijection because the Feistel network is a permutation of
//! `[0, 2^(2h))`: following it from `x < rows` visits `x`'s cycle, which returns to `x`, so the
//! first in-range value is reached and no two inputs can reach the same one. The inverse walks
//! the inverse network the same way.

use crate::rng::mix64;

/// Four rounds: Luby and Rackoff's bound for a strong pseudo-random permutation from random
/// round functions. We need good statistical scattering, not cryptographic strength.
const ROUNDS: usize = 4;

/// A seeded permutation of `[0, rows)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPermutation {
    rows: u64,
    half_bits: u32,
    mask: u64,
    keys: [u64; ROUNDS],
}

impl RowPermutation {
    /// A permutation of `[0, rows)` selected by `key`. `rows` of 0 or 1 give the (empty or
    /// trivial) identity.
    #[must_use]
    pub fn new(rows: u64, key: u64) -> Self {
        let bits = if rows <= 1 {
            0
        } else {
            64 - (rows - 1).leading_zeros()
        };
        let half_bits = bits.div_ceil(2).max(1);
        let mask = if half_bits >= 64 {
            u64::MAX
        } else {
            (1u64 << half_bits) - 1
        };
        let mut keys = [0u64; ROUNDS];
        let mut state = key;
        for k in &mut keys {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            *k = mix64(state);
        }
        Self {
            rows,
            half_bits,
            mask,
            keys,
        }
    }

    /// Number of elements permuted.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn round(&self, i: usize, half: u64) -> u64 {
        mix64(half ^ self.keys[i]) & self.mask
    }

    fn encrypt(&self, x: u64) -> u64 {
        let mut l = x >> self.half_bits;
        let mut r = x & self.mask;
        for i in 0..ROUNDS {
            let next = l ^ self.round(i, r);
            l = r;
            r = next;
        }
        (l << self.half_bits) | r
    }

    fn decrypt(&self, y: u64) -> u64 {
        let mut l = y >> self.half_bits;
        let mut r = y & self.mask;
        for i in (0..ROUNDS).rev() {
            let prev = r ^ self.round(i, l);
            r = l;
            l = prev;
        }
        (l << self.half_bits) | r
    }

    /// The image of `x`.
    ///
    /// # Panics
    /// If `x >= rows`: callers index with ranks they drew from `[0, rows)`, so anything else is a
    /// bug in the caller.
    #[must_use]
    pub fn apply(&self, x: u64) -> u64 {
        assert!(
            x < self.rows,
            "RowPermutation::apply({x}) outside [0, {})",
            self.rows
        );
        if self.rows == 1 {
            return 0;
        }
        let mut y = self.encrypt(x);
        while y >= self.rows {
            y = self.encrypt(y);
        }
        y
    }

    /// The preimage of `y` (`invert(apply(x)) == x`).
    ///
    /// # Panics
    /// If `y >= rows`, as for [`RowPermutation::apply`].
    #[must_use]
    pub fn invert(&self, y: u64) -> u64 {
        assert!(
            y < self.rows,
            "RowPermutation::invert({y}) outside [0, {})",
            self.rows
        );
        if self.rows == 1 {
            return 0;
        }
        let mut x = self.decrypt(y);
        while x >= self.rows {
            x = self.decrypt(x);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustive_bijection_small_domains() {
        for rows in 0..=600u64 {
            for key in [0u64, 1, 0xdead_beef, u64::MAX] {
                let p = RowPermutation::new(rows, key);
                let mut seen = vec![false; rows as usize];
                for x in 0..rows {
                    let y = p.apply(x);
                    assert!(y < rows, "rows {rows} key {key}: {x} -> {y}");
                    assert!(!seen[y as usize], "rows {rows} key {key}: {y} hit twice");
                    seen[y as usize] = true;
                    assert_eq!(p.invert(y), x, "rows {rows} key {key}");
                }
            }
        }
    }

    #[test]
    fn exhaustive_bijection_odd_power_boundaries() {
        for rows in [1023u64, 1024, 1025, 4095, 4096, 4097, 65_537] {
            let p = RowPermutation::new(rows, 99);
            let mut seen = vec![false; rows as usize];
            for x in 0..rows {
                let y = p.apply(x);
                assert!(!seen[y as usize]);
                seen[y as usize] = true;
            }
        }
    }

    #[test]
    fn large_domains_round_trip() {
        for rows in [40_000_000u64, 1_000_000_000, (1 << 53) + 7, u64::MAX] {
            let p = RowPermutation::new(rows, 5);
            for x in [0, 1, 2, rows / 2, rows - 2, rows - 1] {
                let y = p.apply(x);
                assert!(y < rows);
                assert_eq!(p.invert(y), x);
            }
        }
    }

    #[test]
    fn keys_give_different_permutations_and_scatter() {
        let a = RowPermutation::new(40_000_000, 1);
        let b = RowPermutation::new(40_000_000, 2);
        let ya: Vec<u64> = (0..64).map(|x| a.apply(x)).collect();
        let yb: Vec<u64> = (0..64).map(|x| b.apply(x)).collect();
        assert_ne!(ya, yb);
        // The 64 hottest ranks must not cluster at the table start: with a uniform scatter the
        // chance that all 64 land in the first half is 2^-64.
        assert!(ya.iter().any(|&y| y >= 20_000_000));
        assert!(ya.iter().any(|&y| y < 20_000_000));
    }
}
