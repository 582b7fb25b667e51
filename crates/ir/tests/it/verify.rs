use seedchip_ir::*;

use crate::graphs;

#[test]
fn embedding_table_must_be_a_param() {
    let mut g = graphs::all_ops();
    // Point t0's bag at a computed value instead of the table parameter.
    let bag = g.find_value("t0.bag").unwrap();
    let ValueDef::Node(nid, _) = g.value(bag).def else {
        panic!()
    };
    let other = g.find_value("dense").unwrap();
    g.nodes[nid.index()].inputs[0] = other;
    let e = verify(&g).unwrap_err().to_string();
    assert!(
        e.contains("node %t0.bag (embedding_bag): table operand %dense must be a parameter"),
        "{e}"
    );
}

#[test]
fn bad_attributes_are_named() {
    let mut g = graphs::all_ops();
    let id = g.find_value("split_0.0").unwrap();
    let ValueDef::Node(nid, _) = g.value(id).def else {
        panic!()
    };
    g.nodes[nid.index()].op = Op::Split {
        axis: 1,
        sizes: vec![3, 6],
    };
    let e = verify(&g).unwrap_err().to_string();
    assert!(
        e.contains("node %split_0.0 (split)") && e.contains("sum to 8"),
        "{e}"
    );

    let mut g = graphs::all_ops();
    let id = g.find_value("transpose_0").unwrap();
    let ValueDef::Node(nid, _) = g.value(id).def else {
        panic!()
    };
    g.nodes[nid.index()].op = Op::Transpose {
        perm: vec![0, 1, 1],
    };
    let e = verify(&g).unwrap_err().to_string();
    assert!(
        e.contains("node %transpose_0 (transpose)") && e.contains("not a permutation"),
        "{e}"
    );
}

#[test]
fn params_are_checked() {
    let mut g = graphs::all_ops();
    let pid = g.find_param("proj").unwrap();
    g.params[pid.index()].init = Init::Data {
        values: vec![1.0; 3],
    };
    let e = verify(&g).unwrap_err().to_string();
    assert!(e.contains("param @proj") && e.contains("3 values"), "{e}");
    let mut g = graphs::all_ops();
    let pid = g.find_param("t0.table").unwrap();
    g.params[pid.index()].init = Init::uniform(0, f32::NAN);
    assert!(
        verify(&g)
            .unwrap_err()
            .to_string()
            .contains("param @t0.table")
    );
}

#[test]
fn wrong_result_count_and_definition() {
    let mut g = graphs::all_ops();
    let id = g.find_value("split_0.1").unwrap();
    let ValueDef::Node(nid, _) = g.value(id).def else {
        panic!()
    };
    g.nodes[nid.index()].outputs.pop();
    let all = seedchip_ir::verify::issues(&g);
    assert!(
        all.iter()
            .any(|i| i.message.contains("does not point back")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|i| i.message.contains("produces 2 results")),
        "{all:?}"
    );
}
