//! Named, seeded random streams.
//!
//! Every random number the zoo produces must be reproducible from the user's `--seed` alone,
//! whatever the thread count, the shard split or the order in which rayon runs tasks. So each
//! independent piece of work (the rows of one chunk of one table of one batch, one request, one
//! permutation key) draws from its own [`ChaCha8Rng`], whose 256-bit seed is a pure function of
//! `(global seed, stream name, index path)`. Nothing is ever drawn from a shared generator, and
//! `StdRng` is never used: rand documents that its algorithm may change between releases.
//!
//! # Derivation (version 1; changing it changes every generated workload)
//!
//! The message is the byte string
//!
//! ```text
//! "seedchip.zoo.stream.v1" ‖ seed (u64 LE) ‖ len(name) (u64 LE) ‖ name (UTF-8)
//!                          ‖ len(index) (u64 LE) ‖ index[0] (u64 LE) ‖ index[1] ‖ …
//! ```
//!
//! Lengths are included so that no two different `(name, index)` pairs produce the same
//! message. For each lane `i` in `0..4`, the lane hash is 64-bit FNV-1a over `[i] ‖ message`,
//! passed through the SplitMix64 finalizer ([`mix64`]) because FNV alone diffuses the last
//! bytes poorly. The four lane words, little-endian, form the ChaCha8 key; the ChaCha stream id
//! and position start at zero. This is not a cryptographic KDF, and need not be: it only has to
//! give distinct, well-mixed keys for distinct names and indices.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Domain tag of the derivation; bump the version when the derivation changes.
const DOMAIN: &[u8] = b"seedchip.zoo.stream.v1";

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// SplitMix64's output finalizer (Steele, Lea and Flood, OOPSLA 2014): a bijection on `u64`
/// with full avalanche, used wherever a well-mixed word is needed from a structured one.
#[must_use]
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

fn lane_hash(lane: u8, seed: u64, name: &str, index: &[u64]) -> u64 {
    let mut h = fnv1a(FNV_OFFSET, &[lane]);
    h = fnv1a(h, DOMAIN);
    h = fnv1a(h, &seed.to_le_bytes());
    h = fnv1a(h, &(name.len() as u64).to_le_bytes());
    h = fnv1a(h, name.as_bytes());
    h = fnv1a(h, &(index.len() as u64).to_le_bytes());
    for i in index {
        h = fnv1a(h, &i.to_le_bytes());
    }
    mix64(h)
}

/// The 256-bit ChaCha8 key of stream `(seed, name, index)`; see the module docs.
#[must_use]
pub fn stream_seed(seed: u64, name: &str, index: &[u64]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (lane, chunk) in out.chunks_exact_mut(8).enumerate() {
        let word = lane_hash(lane as u8, seed, name, index);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// A fresh generator for stream `(seed, name, index)`.
#[must_use]
pub fn stream(seed: u64, name: &str, index: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(stream_seed(seed, name, index))
}

/// A 64-bit key (for keyed bijections) derived like a stream seed, so keys of different tables
/// and seeds are unrelated.
#[must_use]
pub fn stream_key(seed: u64, name: &str, index: &[u64]) -> u64 {
    lane_hash(0, seed, name, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_inputs_same_stream() {
        let mut a = stream(7, "sparse", &[1, 2]);
        let mut b = stream(7, "sparse", &[1, 2]);
        for _ in 0..16 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn every_component_changes_the_seed() {
        let base = stream_seed(7, "sparse", &[1, 2]);
        assert_ne!(base, stream_seed(8, "sparse", &[1, 2]));
        assert_ne!(base, stream_seed(7, "sparsf", &[1, 2]));
        assert_ne!(base, stream_seed(7, "sparse", &[2, 1]));
        assert_ne!(base, stream_seed(7, "sparse", &[1, 2, 0]));
        // Length prefixes keep name and index from bleeding into each other.
        assert_ne!(stream_seed(7, "a", &[]), stream_seed(7, "", &[0x61]));
    }

    #[test]
    fn derivation_is_pinned() {
        // Changing the derivation silently changes every workload ever generated; this test
        // makes such a change deliberate (bump DOMAIN's version and update the value).
        let seed = stream_seed(42, "dense", &[3, 5]);
        let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, PINNED_DENSE_42_3_5);
    }

    const PINNED_DENSE_42_3_5: &str =
        "04c9b29fbfdf2340cbd3f9309922c3e56ab918cb4eb3144e6d353896ee7689b0";

    #[test]
    fn lanes_differ() {
        let s = stream_seed(1, "x", &[]);
        let w: Vec<&[u8]> = s.chunks(8).collect();
        assert_ne!(w[0], w[1]);
        assert_ne!(w[2], w[3]);
    }
}
