//! Per-layer and end-to-end prediction for an IR graph on a peer device.
//!
//! A graph is lowered to the kernels a stack would run (see `stack` for what each stack fuses),
//! every kernel is timed by `kernels`, and the kernels are laid on a timeline: eager calls
//! pipeline host dispatch against GPU execution; replayed stacks run kernels back to back.
//! Inputs cross the host link before the first kernel and outputs after the last.

use std::collections::BTreeMap;

use seedchip_chip::Precision;
use seedchip_ir::{DType, Dim, Graph, Op, ValueId};
use serde::Serialize;

use crate::device::Device;
use crate::kernels::{
    self, CACHE_USABLE_FRACTION, GatherTable, GemmShape, KernelTime, MEMORY_RESERVE_FRACTION,
    QUANTIZED_ROW_EXTRA_BYTES, element_bytes,
};
use crate::skew::{AccessPattern, CacheStream, lru_hit_rates, top_k_fraction};
use crate::stack::{GRAPH_KERNEL_GAP_US, Stack};
use crate::{Error, Params, energy};

/// What a prediction is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PredictOptions {
    /// Rows of the model's batch dimension (user-item pairs for DLRM models).
    pub batch: u64,
    pub precision: Precision,
    pub stack: Stack,
    /// Row popularity of every embedding table.
    pub access: AccessPattern,
}

impl PredictOptions {
    /// With the zoo's default popularity, so predictions describe the inputs the zoo generates.
    pub fn new(batch: u64, precision: Precision, stack: Stack) -> PredictOptions {
        PredictOptions {
            batch,
            precision,
            stack,
            access: default_access(),
        }
    }
}

/// The zoo's default row popularity (`seedchip_zoo::InputOptions::default().alpha`).
pub fn default_access() -> AccessPattern {
    AccessPattern::zipf(seedchip_zoo::InputOptions::default().alpha)
        .expect("the zoo's default alpha is valid")
}

/// What limits a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Compute,
    Memory,
    Gather,
    /// Host dispatch or inter-kernel gaps take longer than the kernels.
    Launch,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerPrediction {
    /// The IR node's (first) result name.
    pub name: String,
    pub op: &'static str,
    pub kernels: u32,
    /// Time this layer adds to the batch, µs (0 when fused).
    pub us: f64,
    pub bound: Bound,
    /// The layer whose kernel does this layer's work, when fused.
    pub fused_into: Option<String>,
    pub flops: f64,
    /// Bytes to and from device memory.
    pub bytes: f64,
    pub lookups: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Energy {
    pub avg_power_w: f64,
    pub joules_per_batch: f64,
    pub joules_per_sample: f64,
    pub samples_per_s_per_watt: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub device: String,
    pub model: String,
    pub batch: u64,
    pub precision: Precision,
    pub stack: Stack,
    pub access: AccessPattern,
    pub per_layer: Vec<LayerPrediction>,
    pub kernels: u32,
    pub host_to_device_us: f64,
    /// From the first host call to the last kernel's end, µs.
    pub device_us: f64,
    pub device_to_host_us: f64,
    /// One batch end to end (copies included), µs.
    pub latency_us: f64,
    /// Steady state: `batch` over the time between batches (copies overlap kernels in replayed
    /// stacks).
    pub samples_per_s: f64,
    pub flops: f64,
    pub lookups: f64,
    /// Achieved FLOP/s over the dense datasheet peak at the precision.
    pub peak_utilization: f64,
    /// Share of embedding-table bytes that do not fit on the device and live in host memory.
    pub tables_on_host_fraction: f64,
    /// `None` without a published TDP.
    pub energy: Option<Energy>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Gemm,
    Gather,
    Stream,
}

#[derive(Debug, Clone, Copy)]
struct Launch {
    layer: usize,
    kind: Kind,
    time: KernelTime,
}

#[derive(Debug)]
struct Layer {
    name: String,
    op: &'static str,
    fused_into: Option<usize>,
    lookups: f64,
}

/// Per-table figures shared by every node reading the table.
#[derive(Debug, Clone, Copy)]
struct TableInfo {
    row_bytes: f64,
    /// Hit rate of on-device lookups in the cache.
    cache_hit: f64,
    host_fraction: f64,
}

/// A peer device with its calibrated model.
#[derive(Debug, Clone)]
pub struct PeerModel {
    device: Device,
    params: Params,
}

impl PeerModel {
    /// The device with the parameters fitted to the embedded H100 data.
    pub fn for_device(name: &str) -> Result<PeerModel, Error> {
        Ok(PeerModel {
            device: Device::get(name)?,
            params: *Params::h100(),
        })
    }

    /// The device with other parameters (a different fit, a what-if).
    pub fn with_params(name: &str, params: Params) -> Result<PeerModel, Error> {
        Ok(PeerModel {
            device: Device::get(name)?,
            params,
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Predicts `graph` at `batch`, `precision` and `stack` with the zoo's default popularity.
    pub fn predict(
        &self,
        graph: &Graph,
        batch: u64,
        precision: Precision,
        stack: Stack,
    ) -> Result<Prediction, Error> {
        self.predict_with(graph, &PredictOptions::new(batch, precision, stack))
    }

    pub fn predict_with(&self, graph: &Graph, opts: &PredictOptions) -> Result<Prediction, Error> {
        if opts.batch == 0 {
            return Err(Error::InvalidOption {
                option: "batch".into(),
                reason: "must be at least 1".into(),
            });
        }
        self.device.peak_tops(opts.precision)?;
        seedchip_ir::verify(graph).map_err(|e| Error::UnsupportedGraph {
            node: graph.name.clone(),
            reason: e.to_string(),
        })?;
        let mut low = Lowering::new(graph, &self.device, &self.params, opts)?;
        low.run()?;
        Ok(low.finish())
    }
}

struct Lowering<'a> {
    g: &'a Graph,
    dev: &'a Device,
    params: &'a Params,
    opts: &'a PredictOptions,
    layers: Vec<Layer>,
    launches: Vec<Launch>,
    /// Layer whose kernel produced each value (views and fused ops forward it).
    owner: Vec<Option<usize>>,
    tables: BTreeMap<ValueId, TableInfo>,
    /// Tuned: the one table-batched gather kernel's tables, and the layer holding it.
    fused_bags: Vec<GatherTable>,
    fused_bag_stream_bytes: f64,
    fused_bag_layer: Option<usize>,
    notes: Vec<String>,
    tables_on_host_fraction: f64,
}

fn node_error(g: &Graph, node: usize, reason: impl Into<String>) -> Error {
    Error::UnsupportedGraph {
        node: g.node_label(seedchip_ir::NodeId::from_index(node)),
        reason: reason.into(),
    }
}

/// Stored bytes per element of an embedding row at a precision.
fn table_element_bytes(p: Precision) -> f64 {
    match p {
        Precision::Fp32 | Precision::Tf32 | Precision::Int32 => 4.0,
        Precision::Bf16 | Precision::Fp16 => 2.0,
        Precision::Fp8 | Precision::Int8 => 1.0,
        Precision::Int4 => 0.5,
    }
}

fn table_row_bytes(dim: u64, p: Precision) -> f64 {
    let extra = match p {
        Precision::Fp8 | Precision::Int8 | Precision::Int4 => QUANTIZED_ROW_EXTRA_BYTES,
        _ => 0.0,
    };
    dim as f64 * table_element_bytes(p) + extra
}

impl<'a> Lowering<'a> {
    fn new(
        g: &'a Graph,
        dev: &'a Device,
        params: &'a Params,
        opts: &'a PredictOptions,
    ) -> Result<Lowering<'a>, Error> {
        let mut low = Lowering {
            g,
            dev,
            params,
            opts,
            layers: Vec::new(),
            launches: Vec::new(),
            owner: vec![None; g.values.len()],
            tables: BTreeMap::new(),
            fused_bags: Vec::new(),
            fused_bag_stream_bytes: 0.0,
            fused_bag_layer: None,
            notes: Vec::new(),
            tables_on_host_fraction: 0.0,
        };
        low.place_tables()?;
        Ok(low)
    }

    fn eb(&self) -> f64 {
        element_bytes(self.opts.precision)
    }

    fn dims(&self, v: ValueId) -> Option<Vec<u64>> {
        self.g.ty(v).resolve(self.opts.batch)
    }

    fn dims_of(&self, node: usize, v: ValueId) -> Result<Vec<u64>, Error> {
        self.dims(v).ok_or_else(|| {
            node_error(
                self.g,
                node,
                format!("operand %{} has a run-time length", self.g.value_name(v)),
            )
        })
    }

    fn numel(&self, node: usize, v: ValueId) -> Result<f64, Error> {
        Ok(self.dims_of(node, v)?.iter().product::<u64>() as f64)
    }

    /// Lookups per bag of an embedding node.
    fn bag_lookups(&self, node: usize) -> Result<(f64, f64), Error> {
        let n = &self.g.nodes[node];
        match &n.op {
            Op::EmbeddingBag { mean_pooling, .. } => {
                let bags = self.numel(node, n.outputs[0])?
                    / self
                        .dims_of(node, n.inputs[0])?
                        .get(1)
                        .copied()
                        .unwrap_or(1) as f64;
                let per_bag = if n.inputs.len() == 2 {
                    self.g
                        .ty(n.inputs[1])
                        .last_dim()
                        .and_then(Dim::fixed)
                        .unwrap_or(1) as f64
                } else {
                    mean_pooling.ok_or_else(|| {
                        node_error(
                            self.g,
                            node,
                            "a ragged bag needs a `mean_pooling` hint to be costed",
                        )
                    })?
                };
                Ok((bags, bags * per_bag))
            }
            Op::Embedding => {
                let l = self.numel(node, n.inputs[1])?;
                Ok((l, l))
            }
            _ => Ok((0.0, 0.0)),
        }
    }

    /// Decides, once per table, its row size, whether it fits in device memory and its cache
    /// hit rate (all tables share the cache).
    fn place_tables(&mut self) -> Result<(), Error> {
        let p = self.opts.precision;
        let mut per_table: BTreeMap<ValueId, (u64, u64, f64)> = BTreeMap::new();
        for (i, n) in self.g.nodes.iter().enumerate() {
            if !matches!(n.op, Op::EmbeddingBag { .. } | Op::Embedding) {
                continue;
            }
            let t = n.inputs[0];
            let shape = self.g.ty(t).shape.clone();
            let (rows, dim) = match shape.as_slice() {
                [Dim::Fixed(r), Dim::Fixed(d)] => (*r, *d),
                _ => {
                    return Err(node_error(
                        self.g,
                        i,
                        "the table must be a fixed [rows, dim]",
                    ));
                }
            };
            let (_, lookups) = self.bag_lookups(i)?;
            per_table.entry(t).or_insert((rows, dim, 0.0)).2 += lookups / self.opts.batch as f64;
        }
        if per_table.is_empty() {
            return Ok(());
        }
        let table_bytes: f64 = per_table
            .values()
            .map(|&(rows, dim, _)| rows as f64 * table_row_bytes(dim, p))
            .sum();
        let table_elems: u64 = per_table.values().map(|&(r, d, _)| r * d).sum();
        let all_elems: u64 = self
            .g
            .params
            .iter()
            .map(|q| self.g.ty(q.value).fixed_numel())
            .sum();
        let dense_bytes = all_elems.saturating_sub(table_elems) as f64 * self.eb();
        let usable = self.dev.memory_bytes() * (1.0 - MEMORY_RESERVE_FRACTION) - dense_bytes;
        let resident = if table_bytes > usable {
            let f = (usable / table_bytes).max(0.0);
            self.tables_on_host_fraction = 1.0 - f;
            self.notes.push(format!(
                "embedding tables ({:.1} GB at {p}) exceed {} ({:.0} GB, {:.0} % kept free): the hottest {:.0} % of each table's rows stay on the device, the rest are read from host memory over {}",
                table_bytes / 1e9,
                self.dev.name(),
                self.dev.peer.memory_capacity_gb,
                MEMORY_RESERVE_FRACTION * 100.0,
                f * 100.0,
                self.dev.arch.host_link,
            ));
            f
        } else {
            1.0
        };
        let streams: Vec<CacheStream> = per_table
            .values()
            .map(|&(rows, dim, lookups)| CacheStream {
                rows,
                row_bytes: table_row_bytes(dim, p),
                lookups,
                pattern: self.opts.access,
            })
            .collect();
        let hits = lru_hit_rates(&streams, self.dev.cache_bytes * CACHE_USABLE_FRACTION);
        for ((&t, &(rows, dim, _)), hit) in per_table.iter().zip(hits) {
            let host_fraction =
                1.0 - top_k_fraction(self.opts.access, rows, resident * rows as f64);
            let on_device = 1.0 - host_fraction;
            let cache_hit = if on_device > 0.0 {
                (hit / on_device).min(1.0)
            } else {
                0.0
            };
            self.tables.insert(
                t,
                TableInfo {
                    row_bytes: table_row_bytes(dim, p),
                    cache_hit,
                    host_fraction,
                },
            );
        }
        Ok(())
    }

    fn layer(&mut self, node: usize, fused_into: Option<usize>) -> usize {
        let n = &self.g.nodes[node];
        self.layers.push(Layer {
            name: n
                .outputs
                .first()
                .map_or_else(String::new, |&o| self.g.value_name(o).to_string()),
            op: n.op.name(),
            fused_into,
            lookups: 0.0,
        });
        let id = self.layers.len() - 1;
        let owner = fused_into.unwrap_or(id);
        for &o in &n.outputs {
            self.owner[o.index()] = Some(owner);
        }
        id
    }

    fn gemm(&mut self, layer: usize, shape: GemmShape) -> Result<(), Error> {
        let time = kernels::gemm(self.dev, self.params, shape, self.opts.precision)?;
        self.launches.push(Launch {
            layer,
            kind: Kind::Gemm,
            time,
        });
        Ok(())
    }

    fn stream(&mut self, layer: usize, bytes: f64, flops: f64) {
        let time = kernels::stream(self.dev, self.params, bytes, flops);
        self.launches.push(Launch {
            layer,
            kind: Kind::Stream,
            time,
        });
    }

    /// The kernel an elementwise node would fuse into: the producer of its first operand that
    /// a kernel produced.
    fn fusion_target(&self, node: usize) -> Option<usize> {
        if !self.opts.stack.fuses() {
            return None;
        }
        self.g.nodes[node]
            .inputs
            .iter()
            .find_map(|v| self.owner[v.index()])
    }

    fn index_bytes(&self, v: ValueId) -> f64 {
        match self.g.ty(v).dtype {
            // Engines take int32 indices; frameworks keep the model's type.
            DType::I64 if self.opts.stack.fuses() => 4.0,
            d => d.size_bytes() as f64,
        }
    }

    fn run(&mut self) -> Result<(), Error> {
        let order = self
            .g
            .topo_order()
            .map_err(|n| node_error(self.g, n.index(), "the graph has a cycle"))?;
        for id in order {
            self.lower(id.index())?;
        }
        if let Some(layer) = self.fused_bag_layer {
            let time = kernels::gather(
                self.dev,
                self.params,
                &self.fused_bags,
                self.fused_bag_stream_bytes,
                self.opts.stack.gather_in_flight_gain(),
            );
            self.launches.push(Launch {
                layer,
                kind: Kind::Gather,
                time,
            });
        }
        Ok(())
    }

    fn lower(&mut self, i: usize) -> Result<(), Error> {
        let g = self.g;
        let n = &g.nodes[i];
        let eb = self.eb();
        let fuses = self.opts.stack.fuses();
        let out = n.outputs.first().copied();
        match &n.op {
            Op::Reshape { .. }
            | Op::Flatten { .. }
            | Op::Transpose { .. }
            | Op::Slice { .. }
            | Op::Split { .. } => {
                // Views: no kernel; consumers fuse into whatever produced the data.
                let owner = n.inputs.first().and_then(|v| self.owner[v.index()]);
                for &o in &n.outputs {
                    self.owner[o.index()] = owner;
                }
            }
            Op::EmbeddingBag { .. } | Op::Embedding => {
                let (bags, lookups) = self.bag_lookups(i)?;
                let table = n.inputs[0];
                let info = *self
                    .tables
                    .get(&table)
                    .expect("place_tables saw every embedding node");
                let dim = self.dims_of(i, table)?[1] as f64;
                let mut stream_bytes = self.index_bytes(n.inputs[1]) * lookups;
                if let Some(&offsets) = n.inputs.get(2) {
                    stream_bytes += self.index_bytes(offsets) * bags;
                }
                stream_bytes += bags * dim * eb;
                let gt = GatherTable {
                    lookups,
                    row_bytes: info.row_bytes,
                    cache_hit: info.cache_hit,
                    host_fraction: info.host_fraction,
                };
                let pooled = matches!(n.op, Op::EmbeddingBag { .. });
                if fuses && pooled {
                    let target = self.fused_bag_layer;
                    let layer = self.layer(i, target);
                    if target.is_none() {
                        self.fused_bag_layer = Some(layer);
                    }
                    self.layers[layer].lookups = lookups;
                    self.fused_bags.push(gt);
                    self.fused_bag_stream_bytes += stream_bytes;
                } else {
                    let layer = self.layer(i, None);
                    self.layers[layer].lookups = lookups;
                    let time = kernels::gather(
                        self.dev,
                        self.params,
                        &[gt],
                        stream_bytes,
                        self.opts.stack.gather_in_flight_gain(),
                    );
                    self.launches.push(Launch {
                        layer,
                        kind: Kind::Gather,
                        time,
                    });
                }
            }
            Op::Linear { act } => {
                let x = self.dims_of(i, n.inputs[0])?;
                let k = *x.last().unwrap_or(&1);
                let m = x.iter().product::<u64>() / k.max(1);
                let w = self.dims_of(i, n.inputs[1])?;
                let nn = w[0];
                let layer = self.layer(i, None);
                self.gemm(layer, GemmShape::single(m, k, nn))?;
                if act.unary().is_some() && !fuses {
                    let elems = (m * nn) as f64;
                    self.stream(layer, 2.0 * elems * eb, elems);
                }
            }
            Op::MatMul { transpose_b } => {
                let a = self.dims_of(i, n.inputs[0])?;
                let b = self.dims_of(i, n.inputs[1])?;
                if a.len() < 2 || b.len() < 2 {
                    return Err(node_error(g, i, "matmul operands need rank >= 2"));
                }
                let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
                let nn = if *transpose_b {
                    b[b.len() - 2]
                } else {
                    b[b.len() - 1]
                };
                let batch = a[..a.len() - 2].iter().product::<u64>();
                let layer = self.layer(i, None);
                self.gemm(
                    layer,
                    GemmShape {
                        batch,
                        m,
                        k,
                        n: nn,
                        shared_b: b.len() == 2,
                    },
                )?;
            }
            Op::Unary(_) | Op::Binary(_) | Op::Concat { .. } => {
                if let Some(target) = self.fusion_target(i) {
                    self.layer(i, Some(target));
                } else {
                    let outs = match out {
                        Some(o) => self.numel(i, o)?,
                        None => 0.0,
                    };
                    let mut ins = 0.0;
                    for &v in &n.inputs {
                        ins += self.numel(i, v)?;
                    }
                    let flops = if matches!(n.op, Op::Concat { .. }) {
                        0.0
                    } else {
                        outs
                    };
                    let layer = self.layer(i, None);
                    self.stream(layer, (ins + outs) * eb, flops);
                }
            }
            Op::LayerNorm { .. } | Op::Softmax { .. } | Op::Reduce { .. } => {
                let ins = self.numel(i, n.inputs[0])?;
                let outs = match out {
                    Some(o) => self.numel(i, o)?,
                    None => 0.0,
                };
                let layer = self.layer(i, None);
                self.stream(layer, (ins + outs) * eb, 5.0 * ins);
            }
            Op::DotInteraction { .. } => {
                let (b, count, d) = if n.inputs.len() == 1 {
                    let x = self.dims_of(i, n.inputs[0])?;
                    if x.len() != 3 {
                        return Err(node_error(g, i, "a single operand must be [B, n, d]"));
                    }
                    (x[0], x[1], x[2])
                } else {
                    let x = self.dims_of(i, n.inputs[0])?;
                    (x[0], n.inputs.len() as u64, *x.last().unwrap_or(&1))
                };
                let pairs = match out {
                    Some(o) => self.numel(i, o)? / b as f64,
                    None => 0.0,
                };
                let layer = self.layer(i, None);
                if !fuses && n.inputs.len() > 1 {
                    self.stream(layer, 2.0 * (b * count * d) as f64 * eb, 0.0);
                }
                self.gemm(
                    layer,
                    GemmShape {
                        batch: b,
                        m: count,
                        k: d,
                        n: count,
                        shared_b: false,
                    },
                )?;
                if !fuses {
                    let bytes = ((b * count * count) as f64 + b as f64 * pairs) * eb;
                    self.stream(layer, bytes, 0.0);
                }
            }
            Op::CrossLayer => {
                let x0 = self.dims_of(i, n.inputs[0])?;
                let d = *x0.last().unwrap_or(&1);
                let m = x0.iter().product::<u64>() / d.max(1);
                let r = self.dims_of(i, n.inputs[2])?[0];
                let layer = self.layer(i, None);
                self.gemm(layer, GemmShape::single(m, d, r))?;
                self.gemm(layer, GemmShape::single(m, r, d))?;
                if !fuses {
                    // x0 ⊙ (·) and + xl, each reading two operands and writing one.
                    let elems = (m * d) as f64;
                    self.stream(layer, 3.0 * elems * eb, elems);
                    self.stream(layer, 3.0 * elems * eb, elems);
                }
            }
            Op::TargetAttention { act } => {
                let q = self.dims_of(i, n.inputs[0])?;
                let keys = self.dims_of(i, n.inputs[1])?;
                if keys.len() != 3 {
                    return Err(node_error(g, i, "keys must be [B, T, d]"));
                }
                let (b, t, d) = (keys[0], keys[1], keys[2]);
                let rows = b * t;
                let layer = self.layer(i, None);
                if !fuses {
                    // Build [q, k, q − k, q ⊙ k] for every (candidate, behaviour) pair.
                    let bytes = (q.iter().product::<u64>() + rows * d + rows * 4 * d) as f64 * eb;
                    self.stream(layer, bytes, 2.0 * (rows * d) as f64);
                }
                let weights: Vec<ValueId> = n.inputs[2..].iter().step_by(2).copied().collect();
                for (j, &w) in weights.iter().enumerate() {
                    let wd = self.dims_of(i, w)?;
                    let (out_f, in_f) = (wd[0], wd[1]);
                    self.gemm(layer, GemmShape::single(rows, in_f, out_f))?;
                    let hidden = j + 1 < weights.len();
                    if hidden && act.unary().is_some() && !fuses {
                        let elems = (rows * out_f) as f64;
                        self.stream(layer, 2.0 * elems * eb, elems);
                    }
                }
                self.gemm(
                    layer,
                    GemmShape {
                        batch: b,
                        m: 1,
                        k: t,
                        n: d,
                        shared_b: false,
                    },
                )?;
            }
            Op::SeqAttention { heads, causal, .. } => {
                let q = self.dims_of(i, n.inputs[0])?;
                let v = self.dims_of(i, n.inputs[2])?;
                if q.len() != 3 || v.len() != 3 || *heads == 0 {
                    return Err(node_error(g, i, "q, k, v must be [B, n, h·d] with h > 0"));
                }
                let (b, len) = (q[0], q[1]);
                let (dk, dv) = (q[2] / heads, v[2] / heads);
                let bh = b * heads;
                let qk = GemmShape {
                    batch: bh,
                    m: len,
                    k: dk,
                    n: len,
                    shared_b: false,
                };
                let sv = GemmShape {
                    batch: bh,
                    m: len,
                    k: len,
                    n: dv,
                    shared_b: false,
                };
                let layer = self.layer(i, None);
                if fuses {
                    let p = self.opts.precision;
                    let a = kernels::gemm(self.dev, self.params, qk, p)?;
                    let c = kernels::gemm(self.dev, self.params, sv, p)?;
                    let work = if *causal { 0.5 } else { 1.0 };
                    let compute = (a.compute_us + c.compute_us) * work;
                    let bytes = (2 * b * len * q[2] + 2 * b * len * v[2]) as f64 * eb;
                    let memory = bytes
                        / (self.dev.bandwidth_bytes_per_us()
                            * self.params.ceiling.stream_efficiency);
                    let ov = self.params.gemm.overlap;
                    let time = KernelTime {
                        total_us: compute.max(memory) + (1.0 - ov) * compute.min(memory),
                        compute_us: compute,
                        memory_us: memory,
                        gather_us: 0.0,
                        flops: (qk.flops() + sv.flops()) * work,
                        bytes,
                    };
                    self.launches.push(Launch {
                        layer,
                        kind: Kind::Gemm,
                        time,
                    });
                } else {
                    self.gemm(layer, qk)?;
                    let scores = (bh * len * len) as f64;
                    self.stream(layer, 2.0 * scores * eb, 4.0 * scores);
                    self.gemm(layer, sv)?;
                }
            }
        }
        Ok(())
    }

    /// Bytes of every graph input at the batch (ragged index lists sized by their bag's hint).
    fn input_bytes(&self) -> Vec<f64> {
        let users = self.g.users();
        self.g
            .inputs
            .iter()
            .map(|&v| {
                let per = self.index_bytes(v);
                let elems = self
                    .dims(v)
                    .map(|d| d.iter().product::<u64>() as f64)
                    .unwrap_or_else(|| {
                        users[v.index()]
                            .iter()
                            .find_map(|u| self.bag_lookups(u.index()).ok().map(|(_, l)| l))
                            .unwrap_or(0.0)
                    });
                elems * per
            })
            .collect()
    }

    fn finish(self) -> Prediction {
        let dev = self.dev;
        let params = self.params;
        let opts = self.opts;
        let replays = opts.stack.replays();
        let n_layers = self.layers.len();
        let mut us = vec![0.0; n_layers];
        let mut launch_us = vec![0.0; n_layers];
        let mut by_kind = vec![[0.0f64; 3]; n_layers];
        let mut flops = vec![0.0; n_layers];
        let mut bytes = vec![0.0; n_layers];
        let mut kernel_count = vec![0u32; n_layers];
        let mut busy_us = 0.0;
        let mut kernel_energy_uj = 0.0;
        let mut kernel_time_us = 0.0;
        let has_tdp = dev.peer.tdp_w.is_some();
        let device_us;
        for l in &self.launches {
            let t = l.time;
            let slot = match l.kind {
                Kind::Gemm if t.compute_us >= t.memory_us => 0,
                Kind::Gemm | Kind::Stream => 1,
                Kind::Gather => 2,
            };
            by_kind[l.layer][slot] += t.total_us;
            flops[l.layer] += t.flops;
            bytes[l.layer] += t.bytes;
            kernel_count[l.layer] += 1;
            kernel_time_us += t.total_us;
            if has_tdp {
                let a = energy::activity(dev, params, opts.precision, &t);
                kernel_energy_uj += energy::power_w(dev, a).unwrap_or(0.0) * t.total_us;
            }
        }
        if replays {
            for l in &self.launches {
                us[l.layer] += GRAPH_KERNEL_GAP_US + l.time.total_us;
                launch_us[l.layer] += GRAPH_KERNEL_GAP_US;
                busy_us += GRAPH_KERNEL_GAP_US + l.time.total_us;
            }
            // One framework call replays the whole graph.
            device_us = params.gemm.eager_pre_us + busy_us;
        } else {
            let (mut host, mut gpu) = (0.0f64, 0.0f64);
            for l in &self.launches {
                let (pre, post) = match l.kind {
                    Kind::Gather => (params.gather.eager_pre_us, params.gather.eager_post_us),
                    Kind::Gemm | Kind::Stream => {
                        (params.gemm.eager_pre_us, params.gemm.eager_post_us)
                    }
                };
                let launch = host + pre;
                let start = launch.max(gpu);
                let end = start + l.time.total_us;
                us[l.layer] += end - gpu;
                launch_us[l.layer] += start - gpu;
                gpu = end;
                host = launch + post;
            }
            if let Some(last) = self.launches.last() {
                let tail = (host - gpu).max(0.0);
                us[last.layer] += tail;
                launch_us[last.layer] += tail;
            }
            device_us = host.max(gpu);
            busy_us = device_us;
        }

        let inputs = self.input_bytes();
        let outputs: Vec<f64> = self
            .g
            .outputs
            .iter()
            .map(|o| {
                let t = self.g.ty(o.value);
                t.numel(opts.batch).unwrap_or(0) as f64 * t.dtype.size_bytes() as f64
            })
            .collect();
        let copies = |sizes: &[f64]| -> f64 {
            if replays {
                kernels::host_copy_us(dev, sizes.iter().sum())
            } else {
                sizes.iter().map(|&b| kernels::host_copy_us(dev, b)).sum()
            }
        };
        let h2d = copies(&inputs);
        let d2h = copies(&outputs);
        let latency_us = h2d + device_us + d2h;
        let period_us = if replays {
            busy_us.max(h2d + d2h)
        } else {
            latency_us
        };
        let samples_per_s = opts.batch as f64 / period_us * 1e6;
        let total_flops: f64 = flops.iter().sum();
        let peak = dev.peak_tops(opts.precision).unwrap_or(f64::INFINITY) * 1e6;

        let mut per_layer: Vec<LayerPrediction> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                let [c, m, gth] = by_kind[i];
                let candidates = [
                    (Bound::Compute, c),
                    (Bound::Memory, m),
                    (Bound::Gather, gth),
                    (Bound::Launch, launch_us[i]),
                ];
                let bound = candidates
                    .iter()
                    .fold((Bound::Memory, -1.0), |best, &(b, t)| {
                        if t > best.1 { (b, t) } else { best }
                    })
                    .0;
                LayerPrediction {
                    name: layer.name.clone(),
                    op: layer.op,
                    kernels: kernel_count[i],
                    us: us[i],
                    bound,
                    fused_into: layer.fused_into.map(|f| self.layers[f].name.clone()),
                    flops: flops[i],
                    bytes: bytes[i],
                    lookups: layer.lookups,
                }
            })
            .collect();
        for i in 0..per_layer.len() {
            if let Some(f) = self.layers[i].fused_into {
                per_layer[i].bound = per_layer[f].bound;
            }
        }

        let energy = dev.peer.tdp_w.map(|_| {
            let idle = energy::power_w(dev, 0.0).unwrap_or(0.0);
            let joules_per_batch =
                (kernel_energy_uj + idle * (period_us - kernel_time_us).max(0.0)) * 1e-6;
            let avg_power_w = joules_per_batch / (period_us * 1e-6);
            Energy {
                avg_power_w,
                joules_per_batch,
                joules_per_sample: joules_per_batch / opts.batch as f64,
                samples_per_s_per_watt: samples_per_s / avg_power_w,
            }
        });
        Prediction {
            device: dev.name().to_string(),
            model: self.g.name.clone(),
            batch: opts.batch,
            precision: opts.precision,
            stack: opts.stack,
            access: opts.access,
            kernels: self.launches.len() as u32,
            per_layer,
            host_to_device_us: h2d,
            device_us,
            device_to_host_us: d2h,
            latency_us,
            samples_per_s,
            flops: total_flops,
            lookups: self.layers.iter().map(|l| l.lookups).sum(),
            peak_utilization: total_flops / period_us / peak,
            tables_on_host_fraction: self.tables_on_host_fraction,
            energy,
            notes: self.notes,
        }
    }
}
