//! Program listings: the whole container as assembly text, and back.
//!
//! ```text
//! .scp container=1 isa=1
//! .target chip="seedchip-v1" fingerprint=0x0123456789abcdef precision=int8 batch=64
//! .binding input "dense" dtype=f32 shape=[64,13] at=hbm:0x0
//! .data "fc1.weight" at=hbm:0x10000 bytes=4
//! .hex 00010203
//! .table "emb_0" at=hbm:0x20000 rows=1000 dim=64 dtype=emb8 source=procedural seed=42 param="emb_0.weight" dist=uniform bound=0.01
//! .table "small" at=hbm:0x40000 rows=2 dim=1 dtype=f32 source=bytes
//! .hex 0000803f00000040
//! .core 0
//!     dma.copy dst=local:0x0 src=hbm:0x10000 rows=1 row_bytes=4 dst_stride_bytes=4 src_stride_bytes=4 ; signal s0 ; node "fc1"
//!     ctl.halt
//! ```
//!
//! A full listing (the default) carries every byte, so `assemble(disassemble(p)) == p` for the
//! whole program and a listing can be edited and reassembled. A digest listing replaces data
//! and stored table bytes with their FNV-1a digest for reading large programs; it cannot be
//! assembled, and says so.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use seedchip_chip::Precision;

use crate::hash::fnv1a64;
use crate::inst::TextError;
use crate::operand::Operand;
use crate::program::{
    Binding, CONTAINER_VERSION, DataSegment, Direction, Distribution, ISA_VERSION, Program, Table,
    TableSource, Target,
};
use crate::text::{Arg, Code, Stmt, parse_line, parse_number, quote};
use crate::{Addr, DType, Error, F32Imm};

/// How a listing shows initialized bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataMode {
    /// Every byte as `.hex` lines: the listing assembles back to the same program.
    #[default]
    Hex,
    /// Only sizes and FNV-1a digests: short, for reading; not assemblable.
    Digest,
}

const HEX_BYTES_PER_LINE: usize = 32;

fn write_hex(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.chunks(HEX_BYTES_PER_LINE) {
        out.push_str(".hex ");
        for b in chunk {
            let _ = write!(out, "{b:02x}");
        }
        out.push('\n');
    }
}

impl Program {
    /// The full listing (see the module docs); `Program::assemble` inverts it exactly.
    pub fn disassemble(&self) -> String {
        self.disassemble_with(DataMode::Hex)
    }

    pub fn disassemble_with(&self, mode: DataMode) -> String {
        let mut s = String::new();
        let t = &self.target;
        let _ = writeln!(s, ".scp container={CONTAINER_VERSION} isa={ISA_VERSION}");
        let _ = writeln!(
            s,
            ".target chip={} fingerprint={:#018x} precision={} batch={}",
            quote(&t.chip),
            t.fingerprint,
            t.precision.name(),
            t.batch
        );
        if !self.bindings.is_empty() {
            s.push('\n');
        }
        for b in &self.bindings {
            let dims: Vec<String> = b.shape.iter().map(u64::to_string).collect();
            let _ = writeln!(
                s,
                ".binding {} {} dtype={} shape=[{}] at={}",
                b.direction.name(),
                quote(&b.name),
                b.dtype,
                dims.join(","),
                b.addr
            );
        }
        for d in &self.data {
            let _ = write!(
                s,
                "\n.data {} at=hbm:{:#x} bytes={}",
                quote(&d.label),
                d.hbm,
                d.bytes.len()
            );
            match mode {
                DataMode::Hex => {
                    s.push('\n');
                    write_hex(&mut s, &d.bytes);
                }
                DataMode::Digest => {
                    let _ = writeln!(s, " digest={:#018x}", fnv1a64(&d.bytes));
                }
            }
        }
        for t in &self.tables {
            let _ = write!(
                s,
                "\n.table {} at=hbm:{:#x} rows={} dim={} dtype={}",
                quote(&t.name),
                t.hbm,
                t.rows,
                t.dim,
                t.dtype
            );
            match &t.source {
                TableSource::Procedural { seed, param, dist } => {
                    let Distribution::Uniform { bound } = dist;
                    let _ = writeln!(
                        s,
                        " source=procedural seed={seed} param={} dist=uniform bound={bound}",
                        quote(param)
                    );
                }
                TableSource::Bytes(b) => match mode {
                    DataMode::Hex => {
                        s.push_str(" source=bytes\n");
                        write_hex(&mut s, b);
                    }
                    DataMode::Digest => {
                        let _ = writeln!(s, " source=bytes digest={:#018x}", fnv1a64(b));
                    }
                },
            }
        }
        for (core, code) in &self.code {
            let bytes: usize = code.insts.iter().map(|i| i.size()).sum();
            let _ = writeln!(
                s,
                "\n.core {core}  # {} instructions, {bytes} bytes",
                code.insts.len()
            );
            code.write_listing(&mut s);
        }
        s
    }

    /// Assembles a program listing. Errors carry `line:col`.
    pub fn assemble(text: &str) -> Result<Program, Error> {
        let mut asm = Assembler::default();
        for (n, line) in text.lines().enumerate() {
            let at = |e: TextError| Error::Parse {
                line: n + 1,
                col: e.col,
                message: e.message,
            };
            let (_, stmt) = parse_line(line).map_err(at)?;
            if let Some(stmt) = stmt {
                asm.statement(&stmt).map_err(at)?;
            }
        }
        let last = text.lines().count().max(1);
        asm.finish().map_err(|e| Error::Parse {
            line: last,
            col: e.col,
            message: e.message,
        })
    }
}

/// Assembles a program listing; the same as [`Program::assemble`].
pub fn assemble(text: &str) -> Result<Program, Error> {
    Program::assemble(text)
}

#[derive(Debug, Clone, Copy)]
enum Blob {
    Data(usize),
    Table(usize),
}

#[derive(Default)]
struct Assembler {
    seen_scp: bool,
    target: Option<Target>,
    code: BTreeMap<u32, Code>,
    current_core: Option<u32>,
    data: Vec<DataSegment>,
    tables: Vec<Table>,
    bindings: Vec<Binding>,
    /// The data segment or table whose `.hex` lines are being read, and its declared size.
    pending: Option<(Blob, u64)>,
}

fn err(col: usize, message: impl Into<String>) -> TextError {
    TextError {
        col,
        message: message.into(),
    }
}

/// The `key=value` operands of a directive, each allowed key at most once.
struct Args<'s, 'a> {
    stmt: &'s Stmt<'a>,
    map: BTreeMap<&'a str, &'s Arg<'a>>,
}

impl<'s, 'a> Args<'s, 'a> {
    fn new(stmt: &'s Stmt<'a>, allowed: &[&str]) -> Result<Args<'s, 'a>, TextError> {
        let mut map = BTreeMap::new();
        for a in &stmt.args {
            if !allowed.contains(&a.key) {
                return Err(err(
                    a.key_col,
                    format!(
                        "{} has no `{}` (valid: {})",
                        stmt.head,
                        a.key,
                        allowed.join(", ")
                    ),
                ));
            }
            if map.insert(a.key, a).is_some() {
                return Err(err(a.key_col, format!("`{}` given twice", a.key)));
            }
        }
        if let Some(c) = stmt.clauses.first() {
            return Err(err(c.col, format!("{} takes no `;` clauses", stmt.head)));
        }
        Ok(Args { stmt, map })
    }

    fn get(&self, key: &str) -> Option<&'s Arg<'a>> {
        self.map.get(key).copied()
    }

    fn req(&self, key: &str) -> Result<&'s Arg<'a>, TextError> {
        self.get(key).ok_or_else(|| {
            err(
                self.stmt.head_col,
                format!("{} needs `{key}=`", self.stmt.head),
            )
        })
    }

    fn word(&self, key: &str) -> Result<(&'s str, usize), TextError> {
        let a = self.req(key)?;
        if a.quoted {
            return Err(err(a.value_col, format!("`{key}` is not quoted")));
        }
        Ok((&a.value, a.value_col))
    }

    fn string(&self, key: &str) -> Result<String, TextError> {
        let a = self.req(key)?;
        if !a.quoted {
            return Err(err(a.value_col, format!("`{key}` is a quoted string")));
        }
        Ok(a.value.to_string())
    }

    fn number(&self, key: &str) -> Result<u64, TextError> {
        let (v, col) = self.word(key)?;
        parse_number(v).map_err(|m| err(col, format!("`{key}`: {m}")))
    }

    fn parse<T: Operand>(&self, key: &str) -> Result<T, TextError> {
        let (v, col) = self.word(key)?;
        T::parse_text(v).map_err(|m| err(col, format!("`{key}`: {m}")))
    }

    fn dtype(&self, key: &str) -> Result<DType, TextError> {
        let (v, col) = self.word(key)?;
        DType::from_name(v).ok_or_else(|| {
            err(
                col,
                format!("`{v}` is not a dtype (f32, bf16, f16, e4m3, e5m2, i8, u8, i32, emb8)"),
            )
        })
    }

    fn hbm(&self, key: &str) -> Result<u64, TextError> {
        let (_, col) = self.word(key)?;
        let a: Addr = self.parse(key)?;
        if a.space != crate::Space::Hbm {
            return Err(err(col, format!("`{key}` must be an hbm address")));
        }
        Ok(a.offset)
    }

    fn digest_refusal(&self, what: &str) -> Result<(), TextError> {
        match self.get("digest") {
            Some(a) => Err(err(
                a.key_col,
                format!(
                    "{what}: this listing shows only a digest of the bytes (a digest listing); \
                     assemble a full listing instead"
                ),
            )),
            None => Ok(()),
        }
    }
}

fn narrow<T: TryFrom<u64>>(v: u64, key: &str, col: usize) -> Result<T, TextError> {
    T::try_from(v).map_err(|_| err(col, format!("`{key}`: {v} is too large")))
}

/// The one positional (a name, a direction, a core number) a directive takes at `index`.
fn positional<'s>(
    stmt: &'s Stmt<'_>,
    index: usize,
    what: &str,
    quoted: bool,
) -> Result<&'s str, TextError> {
    match stmt.positionals.get(index) {
        Some(p) if p.quoted == quoted => Ok(&p.value),
        Some(p) => Err(err(
            p.col,
            if quoted {
                format!("{} {what} is a quoted string", stmt.head)
            } else {
                format!("{} {what} is not quoted", stmt.head)
            },
        )),
        None => Err(err(stmt.head_col, format!("{} needs a {what}", stmt.head))),
    }
}

fn no_more_positionals(stmt: &Stmt<'_>, n: usize) -> Result<(), TextError> {
    match stmt.positionals.get(n) {
        Some(p) => Err(err(p.col, format!("unexpected `{}`", p.value))),
        None => Ok(()),
    }
}

impl Assembler {
    fn statement(&mut self, stmt: &Stmt<'_>) -> Result<(), TextError> {
        if stmt.head == ".hex" {
            return self.hex(stmt);
        }
        if let Some((blob, size)) = self.pending.take() {
            return Err(err(
                stmt.head_col,
                format!(
                    "{} has {} of its {size} bytes; `.hex` lines must complete it first",
                    self.blob_name(blob),
                    self.blob_len(blob)
                ),
            ));
        }
        if !self.seen_scp {
            if stmt.head != ".scp" {
                return Err(err(
                    stmt.head_col,
                    "a program listing starts with `.scp container=1 isa=1`",
                ));
            }
            let a = Args::new(stmt, &["container", "isa"])?;
            no_more_positionals(stmt, 0)?;
            for (key, supported) in [("container", CONTAINER_VERSION), ("isa", ISA_VERSION)] {
                let (_, col) = a.word(key)?;
                let v = a.number(key)?;
                if v != u64::from(supported) {
                    return Err(err(
                        col,
                        format!("{key} version {v} (this build reads {supported})"),
                    ));
                }
            }
            self.seen_scp = true;
            return Ok(());
        }
        if self.target.is_none() && stmt.head != ".target" {
            return Err(err(stmt.head_col, "`.target` must follow `.scp`"));
        }
        match stmt.head {
            ".scp" => Err(err(stmt.head_col, "second `.scp`")),
            ".target" => self.target(stmt),
            ".binding" => self.binding(stmt),
            ".data" => self.data(stmt),
            ".table" => self.table(stmt),
            ".core" => {
                Args::new(stmt, &[])?;
                let (v, col) = (
                    positional(stmt, 0, "core number", false)?,
                    stmt.positionals[0].col,
                );
                no_more_positionals(stmt, 1)?;
                let core: u32 = narrow(parse_number(v).map_err(|m| err(col, m))?, "core", col)?;
                if self.code.insert(core, Code::default()).is_some() {
                    return Err(err(col, format!("core {core} listed twice")));
                }
                self.current_core = Some(core);
                Ok(())
            }
            head if head.starts_with('.') => Err(err(
                stmt.head_col,
                format!(
                    "unknown directive `{head}` (valid: .scp .target .binding .data .table .hex \
                     .core)"
                ),
            )),
            _ => {
                let Some(core) = self.current_core else {
                    return Err(err(
                        stmt.head_col,
                        "instruction before any `.core N` directive",
                    ));
                };
                let code = self.code.entry(core).or_default();
                code.push_stmt(stmt)
            }
        }
    }

    fn target(&mut self, stmt: &Stmt<'_>) -> Result<(), TextError> {
        if self.target.is_some() {
            return Err(err(stmt.head_col, "second `.target`"));
        }
        let a = Args::new(stmt, &["chip", "fingerprint", "precision", "batch"])?;
        no_more_positionals(stmt, 0)?;
        let (p, pcol) = a.word("precision")?;
        let precision = Precision::parse(p).ok_or_else(|| {
            let valid: Vec<&str> = Precision::ALL.iter().map(|p| p.name()).collect();
            err(
                pcol,
                format!("unknown precision `{p}` (valid: {})", valid.join(", ")),
            )
        })?;
        let (_, bcol) = a.word("batch")?;
        self.target = Some(Target {
            chip: a.string("chip")?,
            fingerprint: a.number("fingerprint")?,
            precision,
            batch: narrow(a.number("batch")?, "batch", bcol)?,
        });
        Ok(())
    }

    fn binding(&mut self, stmt: &Stmt<'_>) -> Result<(), TextError> {
        let a = Args::new(stmt, &["dtype", "shape", "at"])?;
        let dir = positional(stmt, 0, "direction (input or output)", false)?;
        let direction = match dir {
            "input" => Direction::Input,
            "output" => Direction::Output,
            _ => {
                return Err(err(
                    stmt.positionals[0].col,
                    format!("`{dir}`: a binding is `input` or `output`"),
                ));
            }
        };
        let name = positional(stmt, 1, "name", true)?.to_string();
        no_more_positionals(stmt, 2)?;
        let (shape_text, col) = a.word("shape")?;
        let inner = shape_text
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(|| err(col, "shape is written [d0,d1,...]"))?;
        let shape = if inner.is_empty() {
            Vec::new()
        } else {
            inner
                .split(',')
                .map(|d| parse_number(d).map_err(|m| err(col, format!("shape: {m}"))))
                .collect::<Result<Vec<u64>, _>>()?
        };
        self.bindings.push(Binding {
            direction,
            name,
            dtype: a.dtype("dtype")?,
            shape,
            addr: a.parse("at")?,
        });
        Ok(())
    }

    fn data(&mut self, stmt: &Stmt<'_>) -> Result<(), TextError> {
        let a = Args::new(stmt, &["at", "bytes", "digest"])?;
        let label = positional(stmt, 0, "label", true)?.to_string();
        no_more_positionals(stmt, 1)?;
        a.digest_refusal(&format!("data `{label}`"))?;
        let size = a.number("bytes")?;
        self.data.push(DataSegment {
            label,
            hbm: a.hbm("at")?,
            bytes: Vec::new(),
        });
        self.expect_hex(Blob::Data(self.data.len() - 1), size);
        Ok(())
    }

    fn table(&mut self, stmt: &Stmt<'_>) -> Result<(), TextError> {
        let a = Args::new(
            stmt,
            &[
                "at", "rows", "dim", "dtype", "source", "seed", "param", "dist", "bound", "digest",
            ],
        )?;
        let name = positional(stmt, 0, "name", true)?.to_string();
        no_more_positionals(stmt, 1)?;
        let (_, dim_col) = a.word("dim")?;
        let (source, scol) = a.word("source")?;
        let procedural_keys = ["seed", "param", "dist", "bound"];
        let table = |source| -> Result<Table, TextError> {
            Ok(Table {
                name: name.clone(),
                hbm: a.hbm("at")?,
                rows: a.number("rows")?,
                dim: narrow(a.number("dim")?, "dim", dim_col)?,
                dtype: a.dtype("dtype")?,
                source,
            })
        };
        match source {
            "procedural" => {
                if let Some(d) = a.get("digest") {
                    return Err(err(d.key_col, "a procedural table has no digest"));
                }
                let (dist, dcol) = a.word("dist")?;
                if dist != "uniform" {
                    return Err(err(
                        dcol,
                        format!("unknown distribution `{dist}` (valid: uniform)"),
                    ));
                }
                let t = table(TableSource::Procedural {
                    seed: a.number("seed")?,
                    param: a.string("param")?,
                    dist: Distribution::Uniform {
                        bound: a.parse::<F32Imm>("bound")?,
                    },
                })?;
                self.tables.push(t);
            }
            "bytes" => {
                if let Some(k) = procedural_keys.iter().find_map(|k| a.get(k)) {
                    return Err(err(
                        k.key_col,
                        format!("`{}` belongs to source=procedural", k.key),
                    ));
                }
                a.digest_refusal(&format!("table `{name}`"))?;
                let t = table(TableSource::Bytes(Vec::new()))?;
                let size = t.size_bytes().ok_or_else(|| {
                    err(
                        stmt.head_col,
                        format!("table `{name}`: size overflows 64 bits"),
                    )
                })?;
                self.tables.push(t);
                self.expect_hex(Blob::Table(self.tables.len() - 1), size);
            }
            _ => {
                return Err(err(
                    scol,
                    format!("unknown source `{source}` (valid: procedural, bytes)"),
                ));
            }
        }
        Ok(())
    }

    fn expect_hex(&mut self, blob: Blob, size: u64) {
        if size > 0 {
            self.pending = Some((blob, size));
        }
    }

    fn blob_bytes(&mut self, blob: Blob) -> Option<&mut Vec<u8>> {
        match blob {
            Blob::Data(i) => self.data.get_mut(i).map(|d| &mut d.bytes),
            Blob::Table(i) => match self.tables.get_mut(i).map(|t| &mut t.source) {
                Some(TableSource::Bytes(b)) => Some(b),
                _ => None,
            },
        }
    }

    fn blob_len(&self, blob: Blob) -> usize {
        match blob {
            Blob::Data(i) => self.data.get(i).map_or(0, |d| d.bytes.len()),
            Blob::Table(i) => match self.tables.get(i).map(|t| &t.source) {
                Some(TableSource::Bytes(b)) => b.len(),
                _ => 0,
            },
        }
    }

    fn blob_name(&self, blob: Blob) -> String {
        match blob {
            Blob::Data(i) => format!("data `{}`", self.data.get(i).map_or("", |d| &d.label)),
            Blob::Table(i) => format!("table `{}`", self.tables.get(i).map_or("", |t| &t.name)),
        }
    }

    fn hex(&mut self, stmt: &Stmt<'_>) -> Result<(), TextError> {
        Args::new(stmt, &[])?;
        let Some((blob, size)) = self.pending else {
            return Err(err(
                stmt.head_col,
                "`.hex` outside a `.data` or `.table source=bytes` block",
            ));
        };
        let text = positional(stmt, 0, "hex string", false)?;
        let col = stmt.positionals[0].col;
        no_more_positionals(stmt, 1)?;
        if text.len() % 2 != 0 {
            return Err(err(col, "odd number of hex digits"));
        }
        let mut bytes = Vec::with_capacity(text.len() / 2);
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let digit = |b: u8, k: usize| {
                (b as char).to_digit(16).ok_or_else(|| {
                    err(
                        col + 2 * i + k,
                        format!("`{}` is not a hex digit", b as char),
                    )
                })
            };
            bytes.push((digit(pair[0], 0)? * 16 + digit(pair[1], 1)?) as u8);
        }
        let have = self.blob_len(blob) as u64;
        if have + bytes.len() as u64 > size {
            return Err(err(
                col,
                format!(
                    "{} declares {size} bytes; this line brings it to {}",
                    self.blob_name(blob),
                    have + bytes.len() as u64
                ),
            ));
        }
        if let Some(b) = self.blob_bytes(blob) {
            b.extend_from_slice(&bytes);
        }
        if have + bytes.len() as u64 != size {
            self.pending = Some((blob, size));
        } else {
            self.pending = None;
        }
        Ok(())
    }

    fn finish(self) -> Result<Program, TextError> {
        if let Some((blob, size)) = self.pending {
            return Err(err(
                1,
                format!(
                    "{} has {} of its {size} bytes at the end of the listing",
                    self.blob_name(blob),
                    self.blob_len(blob)
                ),
            ));
        }
        let Some(target) = self.target else {
            return Err(err(1, "missing `.scp` / `.target` header"));
        };
        let program = Program {
            target,
            code: self.code,
            data: self.data,
            tables: self.tables,
            bindings: self.bindings,
        };
        program.validate().map_err(|e| err(1, e.to_string()))?;
        Ok(program)
    }
}
