//! `.npz` input files (`seedchip infer|run --inputs`) and `.npy` weight files (`--weights`)
//! come from users and numpy: reading any bytes gives arrays or an error, never a panic or an
//! allocation sized by a header rather than by the data. What reads must write back and read
//! again to the same bytes (f16 arrays are widened to f32, so the second write is compared).
//!
//! Run: `cargo fuzz run -s none npz_inputs` (stable toolchains need `-s none`). Seeds:
//! `scripts/fuzz_all.sh` copies the small `.npz` fixtures and `tests/bad-inputs/{inputs,weights}`.

#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use seedchip_ref::npz;

fuzz_target!(|data: &[u8]| {
    // A weight file, or one array of an archive.
    if let Ok(t) = npz::parse_npy(data) {
        let bytes = npz::npy_bytes(&t);
        let back = npz::parse_npy(&bytes).expect("a written .npy must read again");
        assert_eq!(npz::npy_bytes(&back), bytes, ".npy round trip changed the array");
    }
    let _ = seedchip_ir::npy::read_header(&mut Cursor::new(data));

    let Ok(arrays) = npz::read_npz_from(Cursor::new(data), Path::new("fuzz.npz")) else {
        return;
    };
    let bytes = npz::npz_bytes(&arrays).expect("arrays that read must write");
    let back = npz::read_npz_from(Cursor::new(&bytes[..]), Path::new("written.npz"))
        .expect("a written .npz must read again");
    assert_eq!(
        npz::npz_bytes(&back).expect("arrays that read must write"),
        bytes,
        ".npz round trip changed the arrays"
    );
});
