//! The 64-bit hash behind the container checksum and the chip fingerprint.
//!
//! FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3): a few lines any other tool
//! can reimplement from docs/isa.md, and since each step is a bijection of the state, any
//! single changed byte always changes the result. It is not a defence against deliberate
//! tampering, only against corruption and mix-ups.

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(OFFSET_BASIS, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Identifies a resolved chip description: FNV-1a 64 of its JSON (`serde_json`, compact, field
/// order fixed by the struct, maps ordered), so any change to any parameter gives a different
/// fingerprint and a program compiled for one chip is refused on another. Resolve the chip
/// first (defaults filled in): the same chip written with and without its defaults must match.
pub fn chip_fingerprint(chip: &seedchip_chip::Chip) -> u64 {
    // The chip types are plain structs, strings, numbers, options and BTreeMaps with enum keys,
    // all of which serde_json serializes without failing.
    let json = serde_json::to_vec(chip)
        .expect("internal error: a chip description failed to serialize to JSON");
    fnv1a64(&json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }
}
