//! SCALE-Sim inputs (`seedchip scalesim -c CFG -t CSV`): the INI config and the topology CSV
//! parse or give an error with its line, never a panic, and every layer of a config and
//! topology that parse is reported (compute and bandwidth rows) or refused with a typed layer
//! error, in bounded time.
//!
//! Input layout: the first byte's low bit selects the topology form (`--gemm`); the rest is
//! the config text, a NUL byte, then the topology text.
//!
//! Run: `cargo fuzz run -s none scalesim_input` (stable toolchains need `-s none`). Seeds:
//! `scripts/fuzz_all.sh` pairs every config with every topology in the repository.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seedchip_timing::systolic::scalesim as ss;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let gemm = flags & 1 == 1;
    let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let (Ok(cfg), Ok(topo)) = (
        std::str::from_utf8(&rest[..split]),
        std::str::from_utf8(rest.get(split + 1..).unwrap_or(&[])),
    ) else {
        return;
    };
    let config = ss::parse_config(cfg);
    let layers = ss::parse_topology(topo, gemm);
    if let Err(e) = &config {
        assert!(!e.message.is_empty(), "an empty config error");
    }
    if let Err(e) = &layers {
        assert!(!e.message.is_empty(), "an empty topology error");
    }
    let (Ok(config), Ok(layers)) = (config, layers) else {
        return;
    };
    let mut reports = Vec::new();
    for layer in &layers {
        if let Ok(r) = ss::layer_report(&config, layer) {
            reports.push(r);
        }
    }
    let _ = ss::compute_report_csv(&reports);
    let _ = ss::bandwidth_report_csv(&reports);
});
