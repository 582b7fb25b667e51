//! The assembly text form: lexing, statements, instruction lines and bare code listings.
//!
//! ```text
//! line      := [label ':'] [statement] ['#' comment]
//! statement := head item* (';' clause)*
//! item      := key '=' value | value            (positional values only in directives)
//! clause    := 'wait' sem '>=' number | 'signal' sem | 'node' "string"
//! ```
//!
//! An instruction is `class.op[.dtype...] key=value ...` with every operand named (in any
//! order, each exactly once) so a line reads without the table at hand. Strings are
//! double-quoted with `\\`, `\"`, `\n`, `\t`, `\r` and `\u{hex}` escapes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::code::{Instruction, Wait};
use crate::inst::{Inst, Opcode, TextError, dtype_list, instructions};
use crate::operand::{Operand, parse_u64};
use crate::{DType, Error, Sem};

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Str(String),
    Eq,
    Ge,
    Semi,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    tok: Tok<'a>,
    col: usize,
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, ';' | '#' | '"' | '=' | '>')
}

fn lex(line: &str) -> Result<Vec<Token<'_>>, TextError> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if c == ';' {
            out.push(Token {
                tok: Tok::Semi,
                col,
            });
            i += 1;
        } else if c == '=' {
            out.push(Token { tok: Tok::Eq, col });
            i += 1;
        } else if c == '>' {
            if chars.get(i + 1).map(|p| p.1) == Some('=') {
                out.push(Token { tok: Tok::Ge, col });
                i += 2;
            } else {
                return Err(TextError {
                    col,
                    message: "`>` must be followed by `=` (wait sN>=value)".into(),
                });
            }
        } else if c == '"' {
            let (s, next) = lex_string(&chars, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                col,
            });
            i = next;
        } else {
            let mut j = i;
            while j < chars.len() && is_word_char(chars[j].1) {
                j += 1;
            }
            let end = chars.get(j).map_or(line.len(), |p| p.0);
            out.push(Token {
                tok: Tok::Word(&line[start..end]),
                col,
            });
            i = j;
        }
    }
    Ok(out)
}

fn lex_string(chars: &[(usize, char)], open: usize) -> Result<(String, usize), TextError> {
    let mut s = String::new();
    let mut i = open + 1;
    loop {
        let Some(&(_, c)) = chars.get(i) else {
            return Err(TextError {
                col: open + 1,
                message: "unterminated string".into(),
            });
        };
        match c {
            '"' => return Ok((s, i + 1)),
            '\\' => {
                let esc_col = i + 1;
                let bad = |m: &str| TextError {
                    col: esc_col,
                    message: m.to_string(),
                };
                let Some(&(_, e)) = chars.get(i + 1) else {
                    return Err(bad("unterminated escape"));
                };
                i += 2;
                match e {
                    '\\' => s.push('\\'),
                    '"' => s.push('"'),
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    'r' => s.push('\r'),
                    'u' => {
                        if chars.get(i).map(|p| p.1) != Some('{') {
                            return Err(bad("expected `\\u{hex}`"));
                        }
                        let mut hex = String::new();
                        i += 1;
                        loop {
                            match chars.get(i).map(|p| p.1) {
                                Some('}') => break,
                                Some(h) if h.is_ascii_hexdigit() && hex.len() < 6 => hex.push(h),
                                _ => return Err(bad("bad `\\u{hex}` escape")),
                            }
                            i += 1;
                        }
                        i += 1;
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| bad("`\\u{..}` is not a Unicode scalar value"))?;
                        s.push(ch);
                    }
                    _ => {
                        return Err(bad(
                            "unknown escape (valid: \\\\ \\\" \\n \\t \\r \\u{hex})",
                        ));
                    }
                }
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
}

/// Writes `s` as a double-quoted string literal the lexer reads back unchanged.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A `key=value` operand.
#[derive(Debug, Clone)]
pub(crate) struct Arg<'a> {
    pub key: &'a str,
    pub key_col: usize,
    pub value: Cow<'a, str>,
    pub value_col: usize,
    pub quoted: bool,
}

/// A bare value (directives only: `.binding input "x"`).
#[derive(Debug, Clone)]
pub(crate) struct Positional<'a> {
    pub value: Cow<'a, str>,
    pub col: usize,
    pub quoted: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum ClauseKind {
    Wait(Wait),
    Signal(Sem),
    Node(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Clause {
    pub kind: ClauseKind,
    pub col: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Stmt<'a> {
    pub head: &'a str,
    pub head_col: usize,
    pub args: Vec<Arg<'a>>,
    pub positionals: Vec<Positional<'a>>,
    pub clauses: Vec<Clause>,
}

/// Parses one line into an optional label and an optional statement.
pub(crate) fn parse_line(line: &str) -> Result<(Option<&str>, Option<Stmt<'_>>), TextError> {
    let toks = lex(line)?;
    let mut rest = &toks[..];
    let mut label = None;
    if let Some(Token {
        tok: Tok::Word(w), ..
    }) = rest.first()
        && let Some(name) = w.strip_suffix(':')
        && is_label(name)
    {
        label = Some(name);
        rest = &rest[1..];
    }
    if rest.is_empty() {
        return Ok((label, None));
    }
    let (head, head_col) = match &rest[0].tok {
        Tok::Word(w) => (*w, rest[0].col),
        _ => {
            return Err(TextError {
                col: rest[0].col,
                message: "expected an instruction or directive".into(),
            });
        }
    };
    let mut stmt = Stmt {
        head,
        head_col,
        args: Vec::new(),
        positionals: Vec::new(),
        clauses: Vec::new(),
    };
    let mut i = 1;
    while i < rest.len() && rest[i].tok != Tok::Semi {
        let t = &rest[i];
        match (&t.tok, rest.get(i + 1).map(|t| &t.tok)) {
            (Tok::Word(key), Some(Tok::Eq)) => {
                let Some(v) = rest.get(i + 2) else {
                    return Err(TextError {
                        col: rest[i + 1].col,
                        message: format!("`{key}=` needs a value"),
                    });
                };
                let (value, quoted) = match &v.tok {
                    Tok::Word(w) => (Cow::Borrowed(*w), false),
                    Tok::Str(s) => (Cow::Owned(s.clone()), true),
                    _ => {
                        return Err(TextError {
                            col: v.col,
                            message: format!("`{key}=` needs a value"),
                        });
                    }
                };
                stmt.args.push(Arg {
                    key,
                    key_col: t.col,
                    value,
                    value_col: v.col,
                    quoted,
                });
                i += 3;
            }
            (Tok::Word(w), _) => {
                stmt.positionals.push(Positional {
                    value: Cow::Borrowed(*w),
                    col: t.col,
                    quoted: false,
                });
                i += 1;
            }
            (Tok::Str(s), _) => {
                stmt.positionals.push(Positional {
                    value: Cow::Owned(s.clone()),
                    col: t.col,
                    quoted: true,
                });
                i += 1;
            }
            _ => {
                return Err(TextError {
                    col: t.col,
                    message: "unexpected token".into(),
                });
            }
        }
    }
    while i < rest.len() {
        // rest[i] is a `;`
        let semi_col = rest[i].col;
        let clause_toks: Vec<&Token<'_>> = rest[i + 1..]
            .iter()
            .take_while(|t| t.tok != Tok::Semi)
            .collect();
        i += 1 + clause_toks.len();
        stmt.clauses.push(parse_clause(&clause_toks, semi_col)?);
    }
    Ok((label, Some(stmt)))
}

fn is_label(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'))
}

fn parse_clause(toks: &[&Token<'_>], semi_col: usize) -> Result<Clause, TextError> {
    let err = |col: usize, m: &str| TextError {
        col,
        message: m.to_string(),
    };
    let Some(first) = toks.first() else {
        return Err(err(semi_col, "empty clause after `;`"));
    };
    let sem = |t: Option<&&Token<'_>>, what: &str| -> Result<Sem, TextError> {
        match t {
            Some(Token {
                tok: Tok::Word(w),
                col,
            }) => Sem::parse(w).ok_or_else(|| TextError {
                col: *col,
                message: format!("`{w}` is not a semaphore (s0..s31, g0..g15)"),
            }),
            Some(t) => Err(err(t.col, &format!("{what} needs a semaphore"))),
            None => Err(err(first.col, &format!("{what} needs a semaphore"))),
        }
    };
    let kind = match &first.tok {
        Tok::Word("wait") => {
            let s = sem(toks.get(1), "wait")?;
            match (toks.get(2).map(|t| &t.tok), toks.get(3)) {
                (
                    Some(Tok::Ge),
                    Some(Token {
                        tok: Tok::Word(v),
                        col,
                    }),
                ) => {
                    let value = <u32 as Operand>::parse_text(v).map_err(|m| TextError {
                        col: *col,
                        message: format!("wait value: {m}"),
                    })?;
                    if toks.len() > 4 {
                        return Err(err(toks[4].col, "unexpected token after wait clause"));
                    }
                    ClauseKind::Wait(Wait { sem: s, value })
                }
                _ => {
                    return Err(err(first.col, "wait clause is `wait sN>=value` (or gN)"));
                }
            }
        }
        Tok::Word("signal") => {
            let s = sem(toks.get(1), "signal")?;
            if toks.len() > 2 {
                return Err(err(toks[2].col, "unexpected token after signal clause"));
            }
            ClauseKind::Signal(s)
        }
        Tok::Word("node") => match toks.get(1).map(|t| &t.tok) {
            Some(Tok::Str(s)) if toks.len() == 2 => ClauseKind::Node(s.clone()),
            _ => return Err(err(first.col, "node clause is `node \"label\"`")),
        },
        _ => {
            return Err(err(
                first.col,
                "unknown clause (valid: wait sN>=value, signal sN, node \"label\")",
            ));
        }
    };
    Ok(Clause {
        kind,
        col: first.col,
    })
}

/// Finds the instruction a mnemonic token names and the dtypes its suffixes give.
fn resolve_mnemonic(token: &str) -> Result<(Opcode, Vec<DType>), String> {
    // On failure, the complaint about the longest matching base mnemonic is the useful one.
    let mut best: Option<(usize, String)> = None;
    let mut complain = |len: usize, msg: String| {
        if best.as_ref().is_none_or(|(l, _)| len > *l) {
            best = Some((len, msg));
        }
    };
    'entries: for info in instructions() {
        let Some(rest) = token.strip_prefix(info.mnemonic) else {
            continue;
        };
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else if let Some(r) = rest.strip_prefix('.') {
            r.split('.').collect()
        } else {
            continue;
        };
        if parts.len() != info.dtypes.len() {
            complain(
                info.mnemonic.len(),
                format!("`{token}`: {} is written {}", info.mnemonic, info.pattern()),
            );
            continue;
        }
        let mut dtypes = Vec::with_capacity(parts.len());
        for (part, slot) in parts.iter().zip(info.dtypes) {
            match DType::from_name(part) {
                Some(d) if slot.allowed.contains(&d) => dtypes.push(d),
                _ => {
                    complain(
                        info.mnemonic.len(),
                        format!(
                            "`{token}`: {} {} must be one of {}",
                            info.mnemonic,
                            slot.name,
                            dtype_list(slot.allowed)
                        ),
                    );
                    continue 'entries;
                }
            }
        }
        return Ok((info.opcode, dtypes));
    }
    Err(best
        .map(|b| b.1)
        .unwrap_or_else(|| format!("unknown instruction `{token}` (`seedchip isa` lists them)")))
}

/// Builds an instruction (and its `node` annotation, if any) from a parsed statement.
pub(crate) fn stmt_to_instruction(
    stmt: &Stmt<'_>,
) -> Result<(Instruction, Option<String>), TextError> {
    let (op, dtypes) = resolve_mnemonic(stmt.head).map_err(|message| TextError {
        col: stmt.head_col,
        message,
    })?;
    if let Some(p) = stmt.positionals.first() {
        return Err(TextError {
            col: p.col,
            message: format!(
                "operands are written name=value (`{}` lists the names)",
                op.info().pattern()
            ),
        });
    }
    if let Some(a) = stmt.args.iter().find(|a| a.quoted) {
        return Err(TextError {
            col: a.value_col,
            message: format!("operand `{}`: values are not quoted", a.key),
        });
    }
    let inst = Inst::from_text(op, &dtypes, &stmt.args, stmt.head_col)?;
    let mut out = Instruction::new(inst);
    let mut node = None;
    for c in &stmt.clauses {
        let dup = |what: &str| TextError {
            col: c.col,
            message: format!("second `{what}` clause"),
        };
        match &c.kind {
            ClauseKind::Wait(w) => {
                if out.wait.replace(*w).is_some() {
                    return Err(dup("wait"));
                }
            }
            ClauseKind::Signal(s) => {
                if out.signal.replace(*s).is_some() {
                    return Err(dup("signal"));
                }
            }
            ClauseKind::Node(n) => {
                if node.replace(n.clone()).is_some() {
                    return Err(dup("node"));
                }
            }
        }
    }
    Ok((out, node))
}

impl fmt::Display for Instruction {
    /// One line of assembly, without `node` annotation: `inst ; wait sN>=v ; signal sM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inst)?;
        if let Some(w) = self.wait {
            write!(f, " ; wait {}>={}", w.sem, w.value)?;
        }
        if let Some(s) = self.signal {
            write!(f, " ; signal {s}")?;
        }
        Ok(())
    }
}

impl FromStr for Instruction {
    type Err = Error;

    /// Parses one instruction line (a comment may follow; labels and `node` are refused,
    /// since one instruction has nowhere to keep them).
    fn from_str(s: &str) -> Result<Instruction, Error> {
        let at = |e: TextError| Error::Parse {
            line: 1,
            col: e.col,
            message: e.message,
        };
        if s.contains('\n') {
            return Err(Error::Parse {
                line: 1,
                col: 1,
                message: "one instruction per string; use `assemble_code` for several".into(),
            });
        }
        let (label, stmt) = parse_line(s).map_err(at)?;
        if label.is_some() {
            return Err(Error::Parse {
                line: 1,
                col: 1,
                message: "a label needs a code listing (`assemble_code`)".into(),
            });
        }
        let stmt = stmt.ok_or(Error::Parse {
            line: 1,
            col: 1,
            message: "empty line: expected an instruction".into(),
        })?;
        let (inst, node) = stmt_to_instruction(&stmt).map_err(at)?;
        if node.is_some() {
            return Err(Error::Parse {
                line: 1,
                col: stmt.head_col,
                message: "a `node` annotation needs a code listing (`assemble_code`)".into(),
            });
        }
        Ok(inst)
    }
}

/// A core's instruction stream with its listing annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Code {
    pub insts: Vec<Instruction>,
    /// Instruction index → the IR node it serves (`; node "..."` in listings).
    pub symbols: BTreeMap<u32, String>,
}

impl Code {
    /// Appends an instruction and, when given, the IR node it serves.
    pub fn push(&mut self, inst: impl Into<Instruction>, node: Option<&str>) {
        if let Some(n) = node {
            self.symbols.insert(self.insts.len() as u32, n.to_string());
        }
        self.insts.push(inst.into());
    }

    /// Writes one line per instruction, indented, with `; node` annotations and the PC as a
    /// trailing comment.
    pub fn write_listing(&self, out: &mut String) {
        let mut pc = 0usize;
        for (i, inst) in self.insts.iter().enumerate() {
            let mut line = format!("    {inst}");
            if let Some(node) = self.symbols.get(&(i as u32)) {
                line.push_str(" ; node ");
                line.push_str(&quote(node));
            }
            out.push_str(&format!("{line}  # {pc:#x}\n"));
            pc += inst.size();
        }
    }

    /// The listing as text.
    pub fn disassemble(&self) -> String {
        let mut s = String::new();
        self.write_listing(&mut s);
        s
    }

    pub(crate) fn push_stmt(&mut self, stmt: &Stmt<'_>) -> Result<(), TextError> {
        let (inst, node) = stmt_to_instruction(stmt)?;
        self.push(inst, node.as_deref());
        Ok(())
    }
}

/// Assembles a bare code listing: instructions, labels, comments and blank lines; no
/// directives. Labels are for readers only (SCISA v1 has no branches).
pub fn assemble_code(text: &str) -> Result<Code, Error> {
    let mut code = Code::default();
    for (n, line) in text.lines().enumerate() {
        let at = |e: TextError| Error::Parse {
            line: n + 1,
            col: e.col,
            message: e.message,
        };
        let (_, stmt) = parse_line(line).map_err(at)?;
        let Some(stmt) = stmt else { continue };
        if stmt.head.starts_with('.') {
            return Err(at(TextError {
                col: stmt.head_col,
                message: format!(
                    "directive `{}` outside a program listing (use `Program::assemble`)",
                    stmt.head
                ),
            }));
        }
        code.push_stmt(&stmt).map_err(at)?;
    }
    Ok(code)
}

/// Parses a `u64` the way listings write them (decimal or 0x hex).
pub(crate) fn parse_number(s: &str) -> Result<u64, String> {
    parse_u64(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Addr, Inst};

    #[test]
    fn brief_example_parses() {
        let line = "mxu.matmul.i8 acc=local:0x4000 a=local:0x0 b=local:0x2000 m=64 k=128 n=128 \
                    lda=128 ldb=128 ldacc=128 accumulate=1 transpose_b=0 ; wait s3>=2 ; signal s4";
        let i: Instruction = line.parse().unwrap();
        assert_eq!(
            i.wait,
            Some(Wait {
                sem: Sem::CORE[3],
                value: 2
            })
        );
        assert_eq!(i.signal, Some(Sem::CORE[4]));
        match i.inst {
            Inst::MxuMatmul {
                dtype,
                acc,
                m,
                accumulate,
                ..
            } => {
                assert_eq!(dtype, DType::I8);
                assert_eq!(acc, Addr::local(0x4000));
                assert_eq!(m, 64);
                assert!(accumulate);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(i.to_string(), line.replace("  ", " "));
    }

    fn err_at(text: &str) -> (usize, usize, String) {
        match assemble_code(text) {
            Err(Error::Parse { line, col, message }) => (line, col, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        let (l, c, m) = err_at("ctl.nop\n  ctl.barrier sem=s1 count=2");
        assert_eq!((l, c), (2, 19), "{m}");
        assert!(m.contains("chip semaphore"), "{m}");

        let (_, c, m) = err_at("mxu.matmul.f32 acc=local:0");
        assert_eq!(c, 1);
        assert!(m.contains("i8, bf16, f16, e4m3, e5m2"), "{m}");

        let (_, c, m) = err_at("ctl.wait sem=s1 value=3 extra=4");
        assert_eq!(c, 25);
        assert!(m.contains("operands: sem, value"), "{m}");

        let (_, _, m) = err_at("ctl.wait sem=s1");
        assert!(m.contains("missing operand `value`"), "{m}");

        let (_, c, m) = err_at("ctl.nop ; wait s1>2");
        assert_eq!(c, 18, "{m}");

        let (_, _, m) = err_at("vpu.cvt.f32 dst=local:0");
        assert!(m.contains("vpu.cvt.<from>.<to>"), "{m}");

        let (_, _, m) = err_at("mxu.matmul.batch acc=local:0");
        assert!(m.contains("mxu.matmul.batch.<dtype>"), "{m}");

        let (_, _, m) = err_at("vpu.frobnicate.f32");
        assert!(m.contains("unknown instruction"), "{m}");

        let (_, c, _) = err_at("ctl.signal sem=s1 sem=s2");
        assert_eq!(c, 19);

        let (_, _, m) = err_at("ctl.nop ; node \"unterminated");
        assert!(m.contains("unterminated"), "{m}");
    }

    #[test]
    fn labels_comments_and_nodes() {
        let code = assemble_code(
            "# a comment\nstart:\n  ctl.nop ; node \"fc1 # not a comment; really\"  # pc\n\
             end: ctl.halt\n",
        )
        .unwrap();
        assert_eq!(code.insts.len(), 2);
        assert_eq!(code.symbols[&0], "fc1 # not a comment; really");
        let again = assemble_code(&code.disassemble()).unwrap();
        assert_eq!(again, code);
    }

    #[test]
    fn strings_quote_and_unquote() {
        for s in ["", "a\"b\\c", "tab\there\nnl", "\u{1}\u{7f}é日本"] {
            let q = quote(s);
            let toks = lex(&q).unwrap();
            assert_eq!(toks.len(), 1);
            assert_eq!(toks[0].tok, Tok::Str(s.to_string()), "{q}");
        }
    }
}
