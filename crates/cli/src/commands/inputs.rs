//! Inputs and outputs shared by `infer` and `run`: reading an `.npz` of inputs and checking it
//! against the model before anything runs (so a bad file is named with the input, element and
//! table, not discovered as a fault deep inside an executor), and writing outputs atomically.

use std::collections::BTreeMap;
use std::path::Path;

use seedchip_ir::{Dim, Graph, Op, ValueDef};
use seedchip_ref::{Tensor, TensorData};

use crate::exit::user;

/// Reads `--inputs FILE.npz`: every array must be a model input with finite values, and every
/// embedding index must name a row of its table.
pub fn read_inputs(
    path: &Path,
    graph: Option<&Graph>,
    batch: Option<usize>,
) -> anyhow::Result<BTreeMap<String, Tensor>> {
    let inputs = seedchip_ref::npz::read_npz(path)
        .map_err(|e| user(format!("cannot read inputs: {e}"), &[]))?;
    if inputs.is_empty() {
        return Err(user(
            format!("{}: holds no arrays", path.display()),
            &["an inputs file maps each model input name to an array"],
        ));
    }
    if let (Some(want), Some(got)) = (batch, batch_of(graph, &inputs))
        && want != got
    {
        return Err(user(
            format!("--batch {want} but {} holds batch {got}", path.display()),
            &["omit --batch to take it from the inputs"],
        ));
    }
    check_finite(path, &inputs)?;
    if let Some(graph) = graph {
        let declared: Vec<&str> = graph.inputs.iter().map(|&v| graph.value_name(v)).collect();
        if let Some(name) = inputs.keys().find(|n| !declared.contains(&n.as_str())) {
            return Err(user(
                format!(
                    "{}: unknown input `{name}`; the model's inputs are: {}",
                    path.display(),
                    declared.join(", ")
                ),
                &[],
            ));
        }
        check_shapes(path, graph, &inputs)?;
        check_indices(path, graph, &inputs)?;
    }
    Ok(inputs)
}

/// The batch of an input set: the first dimension of an input the model declares with a
/// leading `B` (ragged id lists have a run-time length instead); without a model (a program's
/// inputs), the first dimension of the first array.
pub fn batch_of(graph: Option<&Graph>, inputs: &BTreeMap<String, Tensor>) -> Option<usize> {
    graph
        .and_then(|g| {
            g.inputs
                .iter()
                .filter(|&&v| g.ty(v).shape.first() == Some(&Dim::Batch))
                .find_map(|&v| inputs.get(g.value_name(v)))
        })
        .or_else(|| inputs.values().next())
        .and_then(|t| t.shape().first().copied())
}

/// Every array must have its input's rank, fixed sizes and kind (float or integer), and all
/// batched inputs the same batch, so a mismatch is named here rather than deep in an executor.
fn check_shapes(
    path: &Path,
    graph: &Graph,
    inputs: &BTreeMap<String, Tensor>,
) -> anyhow::Result<()> {
    let mut batch: Option<(usize, &str)> = None;
    for &v in &graph.inputs {
        let name = graph.value_name(v);
        let ty = graph.ty(v);
        let Some(t) = inputs.get(name) else {
            return Err(user(
                format!(
                    "{}: no array for input `{name}` (the model takes {ty})",
                    path.display()
                ),
                &[],
            ));
        };
        let shape = t.shape();
        let float = matches!(t.data(), TensorData::F32(_));
        let mismatch = |what: &str| {
            user(
                format!(
                    "{}: input `{name}` {what}; the model takes {ty}",
                    path.display()
                ),
                &[],
            )
        };
        if float != ty.dtype.is_float() {
            let kind = if float { "floats" } else { "integers" };
            return Err(mismatch(&format!("holds {kind}")));
        }
        let fits = shape.len() == ty.shape.len()
            && shape.iter().zip(&ty.shape).all(|(&n, d)| match d {
                Dim::Fixed(f) => n as u64 == *f,
                Dim::Batch | Dim::Dyn => true,
            });
        if !fits {
            return Err(mismatch(&format!("has shape {shape:?}")));
        }
        for (&n, d) in shape.iter().zip(&ty.shape) {
            if *d != Dim::Batch {
                continue;
            }
            match batch {
                None => batch = Some((n, name)),
                Some((b, first)) if b != n => {
                    return Err(user(
                        format!(
                            "{}: input `{name}` has batch {n} but `{first}` has batch {b}",
                            path.display()
                        ),
                        &["every batched input must hold the same number of samples"],
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// NaN or infinite inputs would propagate silently into every output (and, quantized, into
/// saturated int8 codes), so they are refused with the input and element named.
fn check_finite(path: &Path, inputs: &BTreeMap<String, Tensor>) -> anyhow::Result<()> {
    for (name, t) in inputs {
        let TensorData::F32(values) = t.data() else {
            continue;
        };
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(user(
                format!(
                    "{}: input `{name}` element {i} is {v}; inputs must be finite",
                    path.display()
                ),
                &[],
            ));
        }
    }
    Ok(())
}

/// Every embedding index the user supplied must name a row of the table it looks up; checked
/// against the model (which knows which input feeds which table) before anything runs, so the
/// error names the table, the input and the element.
pub fn check_indices(
    path: &Path,
    graph: &Graph,
    inputs: &BTreeMap<String, Tensor>,
) -> anyhow::Result<()> {
    for node in &graph.nodes {
        if !matches!(node.op, Op::EmbeddingBag { .. } | Op::Embedding) || node.inputs.len() < 2 {
            continue;
        }
        let (table, indices) = (node.inputs[0], node.inputs[1]);
        if !matches!(graph.value(indices).def, ValueDef::Input(_)) {
            continue;
        }
        let Some(Dim::Fixed(rows)) = graph.ty(table).shape.first().copied() else {
            continue;
        };
        let name = graph.value_name(indices);
        let Some(values) = inputs.get(name).and_then(Tensor::indices) else {
            continue;
        };
        if let Some((i, &v)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| **v < 0 || **v as u64 >= rows)
        {
            return Err(user(
                format!(
                    "{}: input `{name}` element {i} is index {v}, outside table `{}` \
                     (rows 0..{rows})",
                    path.display(),
                    graph.value_name(table)
                ),
                &["indices must be in 0..rows of the table they look up"],
            ));
        }
    }
    Ok(())
}

/// Writes next to the target and renames, so a failure never leaves a half-written file.
pub fn write_npz_atomically(path: &Path, arrays: &BTreeMap<String, Tensor>) -> anyhow::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        user(
            format!("--save-outputs {}: not a file path", path.display()),
            &[],
        )
    })?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    if let Err(e) = seedchip_ref::npz::write_npz(&tmp, arrays) {
        let _ = std::fs::remove_file(&tmp);
        return Err(user(format!("cannot write {}: {e}", path.display()), &[]));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        user(format!("cannot write {}: {e}", path.display()), &[])
    })
}
