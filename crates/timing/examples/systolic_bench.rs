//! In-process cost of the systolic model: `systolic::gemm` (closed form) and
//! `scalesim::layer_report` (SCALE-Sim's full report row) over the shapes of the committed
//! SCALE-Sim table. `cargo run --release -p seedchip-timing --example systolic_bench`

use std::hint::black_box;
use std::time::Instant;

use seedchip_chip::Dataflow;
use seedchip_timing::systolic::scalesim::{self as ss, BandwidthMode, Config};
use seedchip_timing::systolic::{self, ArrayShape, Gemm};

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/scalesim_v3_cases.csv"
    );
    let text = std::fs::read_to_string(path).expect("the committed SCALE-Sim table");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let mut cases = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let num = |n: &str| f[col(n)].parse::<u64>().unwrap();
        let df = match f[col("dataflow")] {
            "ws" => Dataflow::Ws,
            "os" => Dataflow::Os,
            _ => Dataflow::Is,
        };
        let config = Config {
            run_name: "bench".into(),
            array_rows: num("rows"),
            array_cols: num("cols"),
            ifmap_sram_kb: num("ifmap_sram_kb"),
            filter_sram_kb: num("filter_sram_kb"),
            ofmap_sram_kb: num("ofmap_sram_kb"),
            dataflow: df,
            bandwidth: BandwidthMode::Calc,
            ramulator_trace: false,
            custom_layout: false,
        };
        let topo = format!("h\nl, {}, {}, {},\n", num("m"), num("n"), num("k"));
        let layer = ss::parse_topology(&topo, true).unwrap().remove(0);
        cases.push((
            df,
            num("rows"),
            num("cols"),
            num("m"),
            num("k"),
            num("n"),
            config,
            layer,
        ));
    }
    let reps = 2000;
    let t0 = Instant::now();
    let mut cycles = 0u64;
    for _ in 0..reps {
        for (df, r, c, m, k, n, _, _) in &cases {
            let t = systolic::gemm(
                *df,
                ArrayShape { rows: *r, cols: *c },
                Gemm {
                    m: *m,
                    k: *k,
                    n: *n,
                },
            )
            .unwrap();
            cycles = cycles.wrapping_add(black_box(t.compute_cycles));
        }
    }
    let per_gemm = t0.elapsed().as_secs_f64() / (reps * cases.len()) as f64;
    let reps2 = 50;
    let t1 = Instant::now();
    for _ in 0..reps2 {
        for (.., config, layer) in &cases {
            black_box(ss::layer_report(config, layer).unwrap());
        }
    }
    let per_report = t1.elapsed().as_secs_f64() / (reps2 * cases.len()) as f64;
    println!(
        "{} GEMM shapes: systolic::gemm {:.0} ns each; scalesim::layer_report {:.1} us each \
         (checksum {cycles})",
        cases.len(),
        per_gemm * 1e9,
        per_report * 1e6
    );
}
