use std::io::Write;

use seedchip_ir::*;
use seedchip_ref::npz::{read_npz, write_npz};
use seedchip_ref::{Executor, Options, synthetic_inputs};

#[test]
fn inputs_and_outputs_through_npz() {
    let mut b = GraphBuilder::new("io");
    let x = b.dense_input("dense", 4);
    let e = b.embedding_bag("cat0", 30, 4, Pooling::Sum, 2);
    let s = b.add(x, e);
    let p = b.linear(s, 1, Activation::Sigmoid);
    b.output("prob", p);
    let g = b.finish().unwrap();
    let dir = std::env::temp_dir().join(format!("seedchip-ref-npz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inputs = synthetic_inputs(&g, 5, 1).unwrap();
    write_npz(&dir.join("in.npz"), &inputs).unwrap();
    let back = read_npz(&dir.join("in.npz")).unwrap();
    assert_eq!(back, inputs);
    let ex = Executor::new(&g, &Options::default()).unwrap();
    let out = ex.run(&back).unwrap();
    write_npz(&dir.join("out.npz"), &out).unwrap();
    let bytes1 = std::fs::read(dir.join("out.npz")).unwrap();
    write_npz(&dir.join("out2.npz"), &ex.run(&inputs).unwrap()).unwrap();
    assert_eq!(bytes1, std::fs::read(dir.join("out2.npz")).unwrap());
    assert_eq!(read_npz(&dir.join("out.npz")).unwrap(), out);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reads_deflated_npz_like_savez_compressed() {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("a.npy", opts).unwrap();
    let t = seedchip_ref::Tensor::from_i64(vec![3], vec![1, 2, 3]).unwrap();
    w.write_all(&seedchip_ref::npz::npy_bytes(&t)).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    let m = seedchip_ref::npz::read_npz_from(
        std::io::Cursor::new(bytes),
        std::path::Path::new("c.npz"),
    )
    .unwrap();
    assert_eq!(m["a"], t);
}
