use std::collections::BTreeMap;

use crate::Error;
use crate::graph::{Graph, ValueDef, ValueId};
use crate::init::{FileFormat, Init};
use crate::op::{Activation, AttentionKernel, BinaryOp, Op, Pooling, ReduceKind, UnaryOp};
use crate::types::{DType, Dim, TensorType};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// `%name`
    Value(String),
    /// `@name`
    Param(String),
    Str(String),
    Ident(String),
    /// Digits, signs, dots and exponent letters, parsed later by whoever needs the number.
    Num(String),
    Punct(char),
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    line: usize,
    col: usize,
}

fn err(pos: Pos, message: impl Into<String>) -> Error {
    Error::Parse {
        line: pos.line,
        col: pos.col,
        message: message.into(),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

fn lex(src: &str) -> Result<Vec<(Tok, Pos)>, Error> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let advance = |i: &mut usize, line: &mut usize, col: &mut usize, c: char| {
        *i += 1;
        if c == '\n' {
            *line += 1;
            *col = 1;
        } else {
            *col += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, col };
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut col, c);
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                let c = chars[i];
                advance(&mut i, &mut line, &mut col, c);
            }
            continue;
        }
        let take_run = |i: &mut usize, col: &mut usize, pred: &dyn Fn(char) -> bool| {
            let start = *i;
            while *i < chars.len() && pred(chars[*i]) {
                *i += 1;
                *col += 1;
            }
            chars[start..*i].iter().collect::<String>()
        };
        match c {
            '%' | '@' => {
                i += 1;
                col += 1;
                let name = take_run(&mut i, &mut col, &is_name_char);
                if name.is_empty() {
                    return Err(err(pos, format!("expected a name after '{c}'")));
                }
                toks.push((
                    if c == '%' {
                        Tok::Value(name)
                    } else {
                        Tok::Param(name)
                    },
                    pos,
                ));
            }
            '"' => {
                advance(&mut i, &mut line, &mut col, c);
                let mut s = String::new();
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(err(pos, "unterminated string"));
                    };
                    let here = Pos { line, col };
                    advance(&mut i, &mut line, &mut col, c);
                    match c {
                        '"' => break,
                        '\\' => {
                            let Some(&e) = chars.get(i) else {
                                return Err(err(here, "unterminated escape"));
                            };
                            advance(&mut i, &mut line, &mut col, e);
                            match e {
                                '"' => s.push('"'),
                                '\\' => s.push('\\'),
                                'n' => s.push('\n'),
                                't' => s.push('\t'),
                                'r' => s.push('\r'),
                                'u' => {
                                    if chars.get(i) != Some(&'{') {
                                        return Err(err(here, "expected '{' after \\u"));
                                    }
                                    advance(&mut i, &mut line, &mut col, '{');
                                    let hex = take_run(&mut i, &mut col, &|c: char| {
                                        c.is_ascii_hexdigit()
                                    });
                                    if chars.get(i) != Some(&'}') {
                                        return Err(err(here, "expected '}' closing \\u{...}"));
                                    }
                                    advance(&mut i, &mut line, &mut col, '}');
                                    let ch =
                                        u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                                    s.push(ch.ok_or_else(|| {
                                        err(here, format!("invalid escape \\u{{{hex}}}"))
                                    })?);
                                }
                                other => {
                                    return Err(err(here, format!("unknown escape \\{other}")));
                                }
                            }
                        }
                        c => s.push(c),
                    }
                }
                toks.push((Tok::Str(s), pos));
            }
            '{' | '}' | '(' | ')' | '[' | ']' | ',' | ':' | '=' | '?' => {
                advance(&mut i, &mut line, &mut col, c);
                toks.push((Tok::Punct(c), pos));
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let s = take_run(&mut i, &mut col, &|c: char| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_')
                });
                toks.push((Tok::Num(s), pos));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let s = take_run(&mut i, &mut col, &|c: char| {
                    c.is_ascii_alphanumeric() || c == '_'
                });
                toks.push((Tok::Ident(s), pos));
            }
            other => return Err(err(pos, format!("unexpected character {other:?}"))),
        }
    }
    toks.push((Tok::Eof, Pos { line, col }));
    Ok(toks)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Value(n) => format!("%{n}"),
        Tok::Param(n) => format!("@{n}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Num(s) => format!("number {s}"),
        Tok::Punct(c) => format!("'{c}'"),
        Tok::Eof => "end of input".into(),
    }
}

#[derive(Debug, Clone)]
enum AttrVal {
    Scalar(Tok, Pos),
    List(Vec<(Tok, Pos)>, Pos),
}

impl AttrVal {
    fn pos(&self) -> Pos {
        match self {
            AttrVal::Scalar(_, p) | AttrVal::List(_, p) => *p,
        }
    }
}

struct NodeStmt {
    results: Vec<(String, TensorType, Pos)>,
    op: String,
    op_pos: Pos,
    args: Vec<(Tok, Pos)>,
    attrs: BTreeMap<String, (AttrVal, Pos)>,
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }

    fn peek2(&self) -> &Tok {
        &self.toks[(self.i + 1).min(self.toks.len() - 1)].0
    }

    fn pos(&self) -> Pos {
        self.toks[self.i].1
    }

    fn next(&mut self) -> (Tok, Pos) {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn unexpected<T>(&self, want: &str) -> Result<T, Error> {
        Err(err(
            self.pos(),
            format!("expected {want}, found {}", describe(self.peek())),
        ))
    }

    fn punct(&mut self, c: char) -> Result<Pos, Error> {
        if *self.peek() == Tok::Punct(c) {
            Ok(self.next().1)
        } else {
            self.unexpected(&format!("'{c}'"))
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Punct(c) {
            self.next();
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, k: &str) -> Result<(), Error> {
        match self.peek() {
            Tok::Ident(s) if s == k => {
                self.next();
                Ok(())
            }
            _ => self.unexpected(&format!("'{k}'")),
        }
    }

    fn ident(&mut self, want: &str) -> Result<(String, Pos), Error> {
        match self.next() {
            (Tok::Ident(s), p) => Ok((s, p)),
            (t, p) => Err(err(p, format!("expected {want}, found {}", describe(&t)))),
        }
    }

    fn string(&mut self, want: &str) -> Result<String, Error> {
        match self.next() {
            (Tok::Str(s), _) => Ok(s),
            (t, p) => Err(err(p, format!("expected {want}, found {}", describe(&t)))),
        }
    }

    fn u64_tok(t: &Tok, p: Pos, want: &str) -> Result<u64, Error> {
        match t {
            Tok::Num(s) => s
                .parse::<u64>()
                .map_err(|_| err(p, format!("expected {want}, found number {s}"))),
            t => Err(err(p, format!("expected {want}, found {}", describe(t)))),
        }
    }

    fn f64_tok(t: &Tok, p: Pos, want: &str) -> Result<f64, Error> {
        let s = match t {
            Tok::Num(s) | Tok::Ident(s) => s,
            t => return Err(err(p, format!("expected {want}, found {}", describe(t)))),
        };
        s.parse::<f64>()
            .map_err(|_| err(p, format!("expected {want}, found {s}")))
    }

    fn f32_tok(t: &Tok, p: Pos, want: &str) -> Result<f32, Error> {
        let s = match t {
            Tok::Num(s) | Tok::Ident(s) => s,
            t => return Err(err(p, format!("expected {want}, found {}", describe(t)))),
        };
        s.parse::<f32>()
            .map_err(|_| err(p, format!("expected {want}, found {s}")))
    }

    fn f32(&mut self, want: &str) -> Result<f32, Error> {
        let (t, p) = self.next();
        Self::f32_tok(&t, p, want)
    }

    fn dim(t: &Tok, p: Pos) -> Result<Dim, Error> {
        match t {
            Tok::Ident(s) if s == "B" => Ok(Dim::Batch),
            Tok::Punct('?') => Ok(Dim::Dyn),
            t => Ok(Dim::Fixed(Self::u64_tok(
                t,
                p,
                "a dimension (B, ? or a size)",
            )?)),
        }
    }

    fn ty(&mut self) -> Result<TensorType, Error> {
        let (name, p) = self.ident("a dtype")?;
        let dtype = DType::from_name(&name).ok_or_else(|| {
            err(
                p,
                format!("unknown dtype '{name}' (expected f32, f16, bf16, i32 or i64)"),
            )
        })?;
        self.punct('[')?;
        let mut shape = Vec::new();
        if !self.eat(']') {
            loop {
                let (t, p) = self.next();
                shape.push(Self::dim(&t, p)?);
                if self.eat(']') {
                    break;
                }
                self.punct(',')?;
            }
        }
        Ok(TensorType::new(dtype, shape))
    }

    fn kv(&mut self, key: &str) -> Result<(Tok, Pos), Error> {
        self.keyword(key)?;
        self.punct('=')?;
        Ok(self.next())
    }

    fn init(&mut self) -> Result<Init, Error> {
        let (kind, p) = self.ident("an initializer (uniform, fill, data, file)")?;
        self.punct('(')?;
        let init = match kind.as_str() {
            "uniform" => {
                let (t, tp) = self.kv("seed")?;
                let seed = Self::u64_tok(&t, tp, "a seed")?;
                self.punct(',')?;
                let (t, tp) = self.kv("bound")?;
                let bound = Self::f32_tok(&t, tp, "a bound")?;
                Init::uniform(seed, bound)
            }
            "fill" => Init::Fill {
                value: self.f32("a fill value")?,
            },
            "data" => {
                self.punct('[')?;
                let mut values = Vec::new();
                if !self.eat(']') {
                    loop {
                        values.push(self.f32("a value")?);
                        if self.eat(']') {
                            break;
                        }
                        self.punct(',')?;
                    }
                }
                Init::Data { values }
            }
            "file" => {
                let path = self.string("a file path")?;
                self.punct(',')?;
                let (t, tp) = self.kv("format")?;
                let format = match &t {
                    Tok::Ident(s) => FileFormat::from_name(s),
                    _ => None,
                }
                .ok_or_else(|| {
                    err(
                        tp,
                        format!(
                            "expected a file format (f32le, f16le, npy), found {}",
                            describe(&t)
                        ),
                    )
                })?;
                self.punct(',')?;
                let (t, tp) = self.kv("offset")?;
                let offset_bytes = Self::u64_tok(&t, tp, "a byte offset")?;
                Init::File {
                    path,
                    format,
                    offset_bytes,
                }
            }
            other => {
                return Err(err(
                    p,
                    format!("unknown initializer '{other}' (expected uniform, fill, data or file)"),
                ));
            }
        };
        self.punct(')')?;
        Ok(init)
    }

    fn attr_value(&mut self) -> Result<AttrVal, Error> {
        let p = self.pos();
        if self.eat('[') {
            let mut items = Vec::new();
            if !self.eat(']') {
                loop {
                    items.push(self.next());
                    if self.eat(']') {
                        break;
                    }
                    self.punct(',')?;
                }
            }
            Ok(AttrVal::List(items, p))
        } else {
            let (t, p) = self.next();
            match t {
                Tok::Num(_) | Tok::Ident(_) => Ok(AttrVal::Scalar(t, p)),
                t => Err(err(
                    p,
                    format!("expected an attribute value, found {}", describe(&t)),
                )),
            }
        }
    }

    fn node_stmt(&mut self) -> Result<NodeStmt, Error> {
        let mut results = Vec::new();
        loop {
            let (t, p) = self.next();
            let Tok::Value(name) = t else {
                return Err(err(
                    p,
                    format!("expected a result %name, found {}", describe(&t)),
                ));
            };
            self.punct(':')?;
            let ty = self.ty()?;
            results.push((name, ty, p));
            if !self.eat(',') {
                break;
            }
        }
        self.punct('=')?;
        let (op, op_pos) = self.ident("an op name")?;
        self.punct('(')?;
        let mut args = Vec::new();
        if !self.eat(')') {
            loop {
                let (t, p) = self.next();
                match t {
                    Tok::Value(_) | Tok::Param(_) => args.push((t, p)),
                    t => {
                        return Err(err(
                            p,
                            format!(
                                "expected an operand (%value or @param), found {}",
                                describe(&t)
                            ),
                        ));
                    }
                }
                if self.eat(')') {
                    break;
                }
                self.punct(',')?;
            }
        }
        let mut attrs = BTreeMap::new();
        while matches!(self.peek(), Tok::Ident(_)) && *self.peek2() == Tok::Punct('=') {
            let (key, kp) = self.ident("an attribute")?;
            self.punct('=')?;
            let v = self.attr_value()?;
            if attrs.insert(key.clone(), (v, kp)).is_some() {
                return Err(err(kp, format!("attribute '{key}' is given twice")));
            }
        }
        Ok(NodeStmt {
            results,
            op,
            op_pos,
            args,
            attrs,
        })
    }
}

/// Parses the text form into a graph and verifies it. Syntax errors carry line:col; a graph that
/// parses but breaks an IR rule yields the verifier's error.
pub fn parse(src: &str) -> Result<Graph, Error> {
    let g = parse_unverified(src)?;
    crate::verify::verify(&g)?;
    Ok(g)
}

/// Parses without verifying (for tests and tools that want to inspect broken graphs).
pub fn parse_unverified(src: &str) -> Result<Graph, Error> {
    let mut p = Parser {
        toks: lex(src)?,
        i: 0,
    };
    p.keyword("graph")?;
    let name = p.string("the graph name as a string")?;
    p.punct('{')?;
    let mut g = Graph::new(name);
    let mut names: BTreeMap<String, (ValueId, Pos)> = BTreeMap::new();
    let mut pending: Vec<(crate::graph::NodeId, Vec<(Tok, Pos)>)> = Vec::new();
    let mut outputs: Vec<(String, Tok, Pos)> = Vec::new();
    let declare =
        |names: &mut BTreeMap<String, (ValueId, Pos)>, name: &str, id: ValueId, pos: Pos| {
            if let Some((_, prev)) = names.insert(name.to_string(), (id, pos)) {
                return Err(err(
                    pos,
                    format!("'{name}' is already defined at {}:{}", prev.line, prev.col),
                ));
            }
            Ok(())
        };
    loop {
        let pos = p.pos();
        match p.peek().clone() {
            Tok::Punct('}') => {
                p.next();
                break;
            }
            Tok::Ident(k) if k == "input" => {
                p.next();
                let (t, vp) = p.next();
                let Tok::Value(vname) = t else {
                    return Err(err(
                        vp,
                        format!("expected an input %name, found {}", describe(&t)),
                    ));
                };
                p.punct(':')?;
                let ty = p.ty()?;
                let id = g.add_input(vname.clone(), ty);
                declare(&mut names, &vname, id, vp)?;
            }
            Tok::Ident(k) if k == "param" => {
                p.next();
                let (t, vp) = p.next();
                let Tok::Param(vname) = t else {
                    return Err(err(
                        vp,
                        format!("expected a parameter @name, found {}", describe(&t)),
                    ));
                };
                p.punct(':')?;
                let ty = p.ty()?;
                p.punct('=')?;
                let init = p.init()?;
                let id = g.add_param(vname.clone(), ty, init);
                declare(&mut names, &vname, id, vp)?;
            }
            Tok::Ident(k) if k == "output" => {
                p.next();
                let oname = p.string("the output name as a string")?;
                p.punct('=')?;
                let (t, tp) = p.next();
                if !matches!(t, Tok::Value(_) | Tok::Param(_)) {
                    return Err(err(tp, format!("expected a value, found {}", describe(&t))));
                }
                outputs.push((oname, t, tp));
            }
            Tok::Value(_) => {
                let stmt = p.node_stmt()?;
                let op = build_op(&stmt)?;
                let n_out = op.num_outputs();
                if stmt.results.len() != n_out {
                    return Err(err(
                        stmt.op_pos,
                        format!(
                            "{} produces {n_out} result(s), {} declared",
                            stmt.op,
                            stmt.results.len()
                        ),
                    ));
                }
                let outs = stmt
                    .results
                    .iter()
                    .map(|(n, t, _)| (n.clone(), t.clone()))
                    .collect();
                let nid = g.add_node(op, Vec::new(), outs);
                for ((rname, _, rp), &id) in stmt.results.iter().zip(&g.node(nid).outputs.clone()) {
                    declare(&mut names, rname, id, *rp)?;
                }
                pending.push((nid, stmt.args));
            }
            Tok::Eof => return Err(err(pos, "unexpected end of input: missing '}'")),
            t => {
                return Err(err(
                    pos,
                    format!(
                        "expected input, param, output, a node or '}}', found {}",
                        describe(&t)
                    ),
                ));
            }
        }
    }
    if *p.peek() != Tok::Eof {
        return p.unexpected("end of input after the graph");
    }
    let resolve = |g: &Graph,
                   names: &BTreeMap<String, (ValueId, Pos)>,
                   t: &Tok,
                   tp: Pos|
     -> Result<ValueId, Error> {
        let (name, want_param) = match t {
            Tok::Value(n) => (n, false),
            Tok::Param(n) => (n, true),
            _ => return Err(err(tp, "expected a value")),
        };
        let Some(&(id, _)) = names.get(name) else {
            let sigil = if want_param { '@' } else { '%' };
            return Err(err(tp, format!("{sigil}{name} is not defined")));
        };
        let is_param = matches!(g.value(id).def, ValueDef::Param(_));
        if is_param != want_param {
            let (have, write) = if is_param {
                ("a parameter", '@')
            } else {
                ("not a parameter", '%')
            };
            return Err(err(tp, format!("'{name}' is {have}; write {write}{name}")));
        }
        Ok(id)
    };
    for (nid, args) in pending {
        let ids = args
            .iter()
            .map(|(t, tp)| resolve(&g, &names, t, *tp))
            .collect::<Result<Vec<_>, _>>()?;
        g.nodes[nid.index()].inputs = ids;
    }
    for (oname, t, tp) in outputs {
        let id = resolve(&g, &names, &t, tp)?;
        g.add_output(oname, id);
    }
    Ok(g)
}

/// Attribute reader that reports unknown, missing and malformed keys at their position.
struct Attrs<'a> {
    map: BTreeMap<String, (AttrVal, Pos)>,
    op: &'a str,
    op_pos: Pos,
}

impl Attrs<'_> {
    fn take(&mut self, key: &str) -> Result<AttrVal, Error> {
        self.map
            .remove(key)
            .map(|(v, _)| v)
            .ok_or_else(|| err(self.op_pos, format!("{} needs attribute '{key}'", self.op)))
    }

    fn scalar(&mut self, key: &str) -> Result<(Tok, Pos), Error> {
        match self.take(key)? {
            AttrVal::Scalar(t, p) => Ok((t, p)),
            AttrVal::List(_, p) => Err(err(p, format!("'{key}' takes a single value, not a list"))),
        }
    }

    fn usize(&mut self, key: &str) -> Result<usize, Error> {
        let (t, p) = self.scalar(key)?;
        let v = Parser::u64_tok(&t, p, &format!("an integer for '{key}'"))?;
        usize::try_from(v).map_err(|_| err(p, format!("'{key}' is too large")))
    }

    fn u64(&mut self, key: &str) -> Result<u64, Error> {
        let (t, p) = self.scalar(key)?;
        Parser::u64_tok(&t, p, &format!("an integer for '{key}'"))
    }

    fn f32(&mut self, key: &str) -> Result<f32, Error> {
        let (t, p) = self.scalar(key)?;
        Parser::f32_tok(&t, p, &format!("a number for '{key}'"))
    }

    fn bool(&mut self, key: &str) -> Result<bool, Error> {
        match self.scalar(key)? {
            (Tok::Ident(s), _) if s == "true" => Ok(true),
            (Tok::Ident(s), _) if s == "false" => Ok(false),
            (t, p) => Err(err(
                p,
                format!("'{key}' must be true or false, found {}", describe(&t)),
            )),
        }
    }

    fn word<T>(
        &mut self,
        key: &str,
        choices: &[&str],
        f: impl Fn(&str) -> Option<T>,
    ) -> Result<T, Error> {
        let (t, p) = self.scalar(key)?;
        if let Tok::Ident(s) = &t
            && let Some(v) = f(s)
        {
            return Ok(v);
        }
        Err(err(
            p,
            format!(
                "'{key}' must be one of {}, found {}",
                choices.join(", "),
                describe(&t)
            ),
        ))
    }

    fn list(&mut self, key: &str) -> Result<Vec<(Tok, Pos)>, Error> {
        match self.take(key)? {
            AttrVal::List(v, _) => Ok(v),
            AttrVal::Scalar(_, p) => Err(err(p, format!("'{key}' takes a list like [1, 2]"))),
        }
    }

    fn u64_list(&mut self, key: &str) -> Result<Vec<u64>, Error> {
        self.list(key)?
            .iter()
            .map(|(t, p)| Parser::u64_tok(t, *p, "an integer"))
            .collect()
    }

    fn usize_list(&mut self, key: &str) -> Result<Vec<usize>, Error> {
        self.list(key)?
            .iter()
            .map(|(t, p)| {
                usize::try_from(Parser::u64_tok(t, *p, "an integer")?)
                    .map_err(|_| err(*p, "too large"))
            })
            .collect()
    }

    fn finish(self) -> Result<(), Error> {
        if let Some((k, (v, _))) = self.map.into_iter().next() {
            return Err(err(v.pos(), format!("{} has no attribute '{k}'", self.op)));
        }
        Ok(())
    }
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|&x| name(x)).collect()
}

fn build_op(stmt: &NodeStmt) -> Result<Op, Error> {
    let mut a = Attrs {
        map: stmt.attrs.clone(),
        op: &stmt.op,
        op_pos: stmt.op_pos,
    };
    let act_names = names(&Activation::ALL, Activation::name);
    let op = match stmt.op.as_str() {
        "embedding_bag" => {
            let pooling = a.word(
                "pooling",
                &names(&Pooling::ALL, Pooling::name),
                Pooling::from_name,
            )?;
            let mean_pooling = match a.map.remove("mean_pooling") {
                Some((AttrVal::Scalar(t, p), _)) => {
                    Some(Parser::f64_tok(&t, p, "a number for 'mean_pooling'")?)
                }
                Some((v, _)) => return Err(err(v.pos(), "'mean_pooling' takes a number")),
                None => None,
            };
            Op::EmbeddingBag {
                pooling,
                mean_pooling,
            }
        }
        "embedding" => Op::Embedding,
        "linear" => Op::Linear {
            act: a.word("act", &act_names, Activation::from_name)?,
        },
        "matmul" => Op::MatMul {
            transpose_b: a.bool("transpose_b")?,
        },
        "concat" => Op::Concat {
            axis: a.usize("axis")?,
        },
        "reshape" => {
            let shape = a
                .list("shape")?
                .iter()
                .map(|(t, p)| Parser::dim(t, *p))
                .collect::<Result<_, _>>()?;
            Op::Reshape { shape }
        }
        "flatten" => Op::Flatten {
            axis: a.usize("axis")?,
        },
        "transpose" => Op::Transpose {
            perm: a.usize_list("perm")?,
        },
        "slice" => Op::Slice {
            axis: a.usize("axis")?,
            start: a.u64("start")?,
            end: a.u64("end")?,
        },
        "split" => Op::Split {
            axis: a.usize("axis")?,
            sizes: a.u64_list("sizes")?,
        },
        "dot_interaction" => Op::DotInteraction {
            self_interaction: a.bool("self_interaction")?,
        },
        "cross_layer" => Op::CrossLayer,
        "layer_norm" => Op::LayerNorm { eps: a.f32("eps")? },
        "softmax" => Op::Softmax {
            axis: a.usize("axis")?,
        },
        "reduce" => Op::Reduce {
            kind: a.word(
                "kind",
                &names(&ReduceKind::ALL, ReduceKind::name),
                ReduceKind::from_name,
            )?,
            axis: a.usize("axis")?,
        },
        "target_attention" => Op::TargetAttention {
            act: a.word("act", &act_names, Activation::from_name)?,
        },
        "seq_attention" => Op::SeqAttention {
            heads: a.u64("heads")?,
            kernel: a.word(
                "kernel",
                &names(&AttentionKernel::ALL, AttentionKernel::name),
                AttentionKernel::from_name,
            )?,
            causal: a.bool("causal")?,
            scale: a.f32("scale")?,
        },
        other => {
            if let Some(u) = UnaryOp::ALL.into_iter().find(|u| u.name() == other) {
                Op::Unary(u)
            } else if let Some(b) = BinaryOp::ALL.into_iter().find(|b| b.name() == other) {
                Op::Binary(b)
            } else {
                return Err(err(stmt.op_pos, format!("unknown op '{other}'")));
            }
        }
    };
    a.finish()?;
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_positions() {
        let toks = lex("graph \"g\" {\n  %x: f32[B, 3]\n}").unwrap();
        assert_eq!(toks[3], (Tok::Value("x".into()), Pos { line: 2, col: 3 }));
        assert_eq!(toks[4].0, Tok::Punct(':'));
    }

    #[test]
    fn errors_have_line_and_col() {
        let src = "graph \"g\" {\n  input %x: f33[B, 3]\n}";
        match parse(src).unwrap_err() {
            Error::Parse { line, col, message } => {
                assert_eq!((line, col), (2, 13), "{message}");
                assert!(message.contains("f33"));
            }
            e => panic!("unexpected {e}"),
        }
        let src = "graph \"g\" {\n  input %x: f32[B, 3]\n  %y: f32[B, 3] = relu(%z)\n  output \"y\" = %y\n}";
        match parse(src).unwrap_err() {
            Error::Parse { line, col, message } => {
                assert_eq!((line, col), (3, 24), "{message}");
                assert!(message.contains("%z is not defined"));
            }
            e => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn unknown_attribute_and_op() {
        let src = "graph \"g\" {\n  input %x: f32[B, 3]\n  %y: f32[B, 3] = softmax(%x) axis=1 bogus=2\n  output \"y\" = %y\n}";
        let e = parse(src).unwrap_err().to_string();
        assert!(e.starts_with("3:"), "{e}");
        assert!(e.contains("bogus"), "{e}");
        let src = "graph \"g\" {\n  input %x: f32[B, 3]\n  %y: f32[B, 3] = frobnicate(%x)\n  output \"y\" = %y\n}";
        assert!(
            parse(src)
                .unwrap_err()
                .to_string()
                .contains("unknown op 'frobnicate'")
        );
    }
}
