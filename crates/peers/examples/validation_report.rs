//! Prints the validation report as markdown (what `seedchip validate --write-docs` writes).
fn main() {
    let report = seedchip_peers::validate::run().expect("the built-in references load");
    print!("{}", report.to_markdown());
}
