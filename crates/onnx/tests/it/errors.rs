//! Bad files fail with messages that say what and where; unsupported models list every node.

use prost::Message;
use seedchip_onnx::proto::{
    AttributeProto, DataType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto, type_proto,
};
use seedchip_onnx::{Error, ExportOptions, ExternalData, ImportOptions};

fn dim(d: &str) -> tensor_shape_proto::Dimension {
    tensor_shape_proto::Dimension {
        value: Some(match d.parse::<i64>() {
            Ok(n) => tensor_shape_proto::dimension::Value::DimValue(n),
            Err(_) => tensor_shape_proto::dimension::Value::DimParam(d.into()),
        }),
        ..Default::default()
    }
}

fn info(name: &str, dims: &[&str]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: dims.iter().map(|d| dim(d)).collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, ins: &[&str], outs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: ins.iter().map(|s| s.to_string()).collect(),
        output: outs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn scalar(name: &str, v: f32) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type: DataType::Float as i32,
        float_data: vec![v],
        ..Default::default()
    }
}

fn model(opset: i64, nodes: Vec<NodeProto>, inits: Vec<TensorProto>, out: &str) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(GraphProto {
            name: "t".into(),
            node: nodes,
            initializer: inits,
            input: vec![info("x", &["batch", "4"])],
            output: vec![info(out, &["batch", "4"])],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn import(m: &ModelProto) -> Result<seedchip_ir::Graph, Error> {
    seedchip_onnx::import_model(m, None, &ImportOptions::default())
}

#[test]
fn a_supported_model_imports() {
    let m = model(
        17,
        vec![
            node("Mul", "scale", &["x", "two"], &["a"]),
            node("Relu", "act", &["a"], &["y"]),
        ],
        vec![scalar("two", 2.0)],
        "y",
    );
    let g = import(&m).unwrap();
    assert_eq!(g.ty(g.outputs[0].value).to_string(), "f32[B, 4]");
}

#[test]
fn every_unsupported_node_is_listed_once() {
    let mut odd = node("FusedGemm", "vendor_op", &["c"], &["d"]);
    odd.domain = "com.microsoft".into();
    let m = model(
        17,
        vec![
            node("Pow", "power", &["x", "two"], &["a"]),
            node("Abs", "absolute", &["a"], &["b"]),
            node("Relu", "fine_but_blocked", &["b"], &["c"]),
            odd,
            node("Relu", "out", &["d"], &["y"]),
        ],
        vec![scalar("two", 2.0)],
        "y",
    );
    let e = import(&m).unwrap_err();
    let Error::Unsupported { nodes } = &e else {
        panic!("{e}")
    };
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["power", "absolute", "vendor_op"], "{e}");
    let text = e.to_string();
    assert!(text.starts_with("3 node(s) cannot be imported"), "{text}");
    assert!(text.contains("power (Pow, opset 17)"), "{text}");
    assert!(
        text.contains("vendor_op (com.microsoft::FusedGemm, opset 0)"),
        "{text}"
    );
}

#[test]
fn opsets_outside_13_to_21_are_refused() {
    for v in [12, 22] {
        let m = model(v, vec![node("Relu", "r", &["x"], &["y"])], vec![], "y");
        let e = import(&m).unwrap_err();
        assert!(
            matches!(e, Error::Opset { version, .. } if version == v),
            "{e}"
        );
        assert!(e.to_string().contains("opsets 13 to 21"), "{e}");
    }
}

#[test]
fn cycles_and_undefined_tensors_are_named() {
    let m = model(
        17,
        vec![
            node("Relu", "first", &["x2"], &["y"]),
            node("Add", "second", &["y", "x"], &["x2"]),
        ],
        vec![],
        "y",
    );
    let e = import(&m).unwrap_err().to_string();
    assert!(e.contains("cycle through node"), "{e}");
    let m = model(
        17,
        vec![node("Relu", "r", &["nowhere"], &["y"])],
        vec![],
        "y",
    );
    let e = import(&m).unwrap_err().to_string();
    assert!(e.contains("node r reads tensor nowhere"), "{e}");
}

#[test]
fn truncated_and_corrupt_files_are_decode_errors() {
    let g = seedchip_zoo::get(
        "rm1",
        &seedchip_zoo::ZooOptions {
            rows_cap: Some(8),
            seed: 1,
        },
    )
    .unwrap();
    let bytes = seedchip_onnx::export(&g, &ExportOptions::default())
        .unwrap()
        .encode_to_vec();
    for cut in [bytes.len() / 2, bytes.len() - 3, 7] {
        let e = seedchip_onnx::import_bytes(&bytes[..cut], None, &ImportOptions::default())
            .unwrap_err();
        assert!(
            matches!(e, Error::Decode { .. } | Error::Model(_)),
            "cut at {cut}: {e}"
        );
    }
    let e = seedchip_onnx::import_bytes(b"PK\x03\x04 this is a zip", None, &Default::default())
        .unwrap_err();
    assert!(
        e.to_string().contains("not a valid ONNX model") || matches!(e, Error::Model(_)),
        "{e}"
    );
}

#[test]
fn symbolic_non_batch_dimensions_need_a_size() {
    let mut m = model(17, vec![node("Relu", "r", &["x"], &["y"])], vec![], "y");
    m.graph.as_mut().unwrap().input = vec![info("x", &["batch", "seq", "4"])];
    m.graph.as_mut().unwrap().output = vec![info("y", &["batch", "seq", "4"])];
    let e = import(&m).unwrap_err().to_string();
    assert!(e.contains("dimension 1 is symbolic (seq)"), "{e}");
    let mut opts = ImportOptions::default();
    opts.dims.insert("seq".into(), 5);
    let g = seedchip_onnx::import_model(&m, None, &opts).unwrap();
    assert_eq!(g.ty(g.inputs[0]).to_string(), "f32[B, 5, 4]");
}

#[test]
fn constant_folding_feeds_reshape_targets() {
    // y = Reshape(x, Concat(Shape(x)[0:1], [2, 2])): PyTorch's x.view(x.size(0), 2, 2).
    let mut shape = node("Shape", "shape", &["x"], &["s"]);
    shape.attribute.push(AttributeProto::int("end", 1));
    let mut cat = node("Concat", "cat", &["s", "tail"], &["target"]);
    cat.attribute.push(AttributeProto::int("axis", 0));
    let tail = TensorProto {
        name: "tail".into(),
        data_type: DataType::Int64 as i32,
        dims: vec![2],
        int64_data: vec![2, 2],
        ..Default::default()
    };
    let mut m = model(
        17,
        vec![
            shape,
            cat,
            node("Reshape", "view", &["x", "target"], &["y"]),
        ],
        vec![tail],
        "y",
    );
    m.graph.as_mut().unwrap().output = vec![info("y", &["batch", "2", "2"])];
    let g = import(&m).unwrap();
    assert_eq!(g.ty(g.outputs[0].value).to_string(), "f32[B, 2, 2]");
    assert_eq!(g.nodes.len(), 1, "{}", seedchip_ir::print(&g));
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("seedchip-onnx-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn external_data_round_trips_and_missing_files_are_named() {
    let dir = temp_dir("external");
    let g = seedchip_zoo::get(
        "rm1",
        &seedchip_zoo::ZooOptions {
            rows_cap: Some(32),
            seed: 3,
        },
    )
    .unwrap();
    let path = dir.join("rm1.onnx");
    let opts = ExportOptions {
        external_data: ExternalData::Always,
        base_dir: None,
    };
    let data = seedchip_onnx::export_to_file(&g, &path, &opts)
        .unwrap()
        .unwrap();
    assert_eq!(data, dir.join("rm1.onnx.data"));
    // Procedural weights come back as such (checked on samples of the side file).
    let back = seedchip_onnx::import_file(&path, &ImportOptions::default()).unwrap();
    assert_eq!(seedchip_ir::print(&back), seedchip_ir::print(&g));

    // Real weights stay in the side file and compute the same outputs.
    let mut real = g.clone();
    for i in 0..real.params.len() {
        let pv =
            seedchip_ir::init::ParamValues::open(&g, seedchip_ir::ParamId::from_index(i), None)
                .unwrap();
        real.params[i].init = seedchip_ir::Init::Data {
            values: pv.materialize().unwrap(),
        };
    }
    seedchip_onnx::export_to_file(&real, &path, &opts).unwrap();
    let back = seedchip_onnx::import_file(&path, &ImportOptions::default()).unwrap();
    let files = back
        .params
        .iter()
        .filter(|p| matches!(p.init, seedchip_ir::Init::File { .. }))
        .count();
    assert!(files > 0);
    let inputs = seedchip_ref::synthetic_inputs(&g, 3, 9).unwrap();
    let run = |g: &seedchip_ir::Graph| {
        seedchip_ref::Executor::new(g, &Default::default())
            .unwrap()
            .run(&inputs)
            .unwrap()
    };
    assert_eq!(run(&back), run(&g));

    // A short side file, then a missing one.
    let f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    f.set_len(100).unwrap();
    let e = seedchip_onnx::import_file(&path, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("rm1.onnx.data holds 100 bytes"), "{e}");
    std::fs::remove_file(&data).unwrap();
    let e = seedchip_onnx::import_file(&path, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("rm1.onnx.data cannot be read"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn coverage_classifies_every_node() {
    let dir = temp_dir("coverage");
    let m = model(
        17,
        vec![
            node("Pow", "power", &["x", "two"], &["a"]),
            node("Relu", "blocked", &["a"], &["y"]),
            node("Relu", "dead", &["x"], &["unused"]),
        ],
        vec![scalar("two", 2.0)],
        "y",
    );
    let path = dir.join("m.onnx");
    std::fs::write(&path, m.encode_to_vec()).unwrap();
    let c = seedchip_onnx::coverage(&path, &ImportOptions::default()).unwrap();
    use seedchip_onnx::NodeStatus as S;
    let st: Vec<&S> = c.nodes.iter().map(|n| &n.status).collect();
    assert!(matches!(st[0], S::Unsupported { .. }));
    assert_eq!(st[1], &S::Blocked);
    assert_eq!(st[2], &S::Unused);
    assert!(!c.is_complete());
    assert!(c.render().contains("power (Pow, opset 17)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Found by the bad-input corpus (tests/bad-inputs/onnx/external-data-escape.onnx): an
/// external-data location with `..` (or an absolute path) was read wherever it pointed. The
/// ONNX specification keeps external data inside the model's directory; now the importer does.
#[test]
fn external_data_outside_the_model_directory_is_refused() {
    use seedchip_onnx::proto::{StringStringEntryProto, tensor_proto::DataLocation};
    let dir = temp_dir("escape");
    std::fs::write(dir.join("outside.bin"), [0u8; 64]).unwrap();
    let inner = dir.join("model");
    std::fs::create_dir_all(&inner).unwrap();
    for location in ["../outside.bin", "/etc/hostname"] {
        let entry = |k: &str, v: &str| StringStringEntryProto {
            key: k.into(),
            value: v.into(),
        };
        let w = TensorProto {
            name: "w".into(),
            data_type: DataType::Float as i32,
            dims: vec![4, 4],
            data_location: DataLocation::External as i32,
            external_data: vec![entry("location", location), entry("offset", "0")],
            ..Default::default()
        };
        let m = model(
            17,
            vec![node("MatMul", "mm", &["x", "w"], &["y"])],
            vec![w],
            "y",
        );
        let path = inner.join("m.onnx");
        std::fs::write(&path, m.encode_to_vec()).unwrap();
        let e = seedchip_onnx::import_file(&path, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("must be a relative path inside the model's directory"),
            "{location}: {e}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
