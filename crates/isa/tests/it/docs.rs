//! docs/isa.md and the instruction table must describe the same instruction set.
//!
//! Two checks: the generated table embedded in the document is byte-identical to
//! `markdown_table()` (`SEEDCHIP_BLESS=1` rewrites it), and the prose names every
//! instruction, as its mnemonic pattern, and names no instruction the table lacks.

use std::collections::BTreeSet;
use std::path::PathBuf;

use seedchip_isa::{DType, InstInfo, instructions, markdown_table};

const BEGIN: &str = "<!-- BEGIN GENERATED: instruction table";
const END: &str = "<!-- END GENERATED -->";

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/isa.md")
}

fn split(doc: &str) -> (&str, &str, &str) {
    let b = doc
        .find(BEGIN)
        .expect("docs/isa.md lacks the generated-table markers");
    let body = b + doc[b..].find('\n').unwrap() + 1;
    let e = doc[body..]
        .find(END)
        .expect("docs/isa.md: unterminated generated block")
        + body;
    (&doc[..body], &doc[body..e], &doc[e..])
}

#[test]
fn generated_table_in_docs_is_fresh() {
    let path = doc_path();
    let doc = std::fs::read_to_string(&path).unwrap();
    let (head, block, tail) = split(&doc);
    let fresh = markdown_table();
    if block != fresh {
        if std::env::var_os("SEEDCHIP_BLESS").is_some() {
            std::fs::write(&path, format!("{head}{fresh}{tail}")).unwrap();
        } else {
            panic!(
                "docs/isa.md's instruction table is stale; run \
                 `SEEDCHIP_BLESS=1 cargo test -p seedchip-isa` and review the diff"
            );
        }
    }
}

/// Expands `a.{b,c}.d` into `a.b.d`, `a.c.d` (one brace group at a time, recursively).
fn expand(s: &str) -> Vec<String> {
    let Some(open) = s.find('{') else {
        return vec![s.to_string()];
    };
    let Some(close) = s[open..].find('}').map(|c| c + open) else {
        return vec![s.to_string()];
    };
    s[open + 1..close]
        .split(',')
        .flat_map(|alt| expand(&format!("{}{}{}", &s[..open], alt, &s[close + 1..])))
        .collect()
}

/// Mnemonic-like words in backticks (`class.op...`) of the hand-written part of the document.
fn prose_mnemonics(prose: &str) -> Vec<String> {
    let classes = ["dma.", "gather.", "mxu.", "vpu.", "ctl."];
    let mut out = Vec::new();
    for span in prose.split('`').skip(1).step_by(2) {
        let word = span.split_whitespace().next().unwrap_or("");
        let word = word.trim_end_matches([',', ':', ')']);
        if classes.iter().any(|c| word.starts_with(c)) {
            out.extend(expand(word));
        }
    }
    out
}

/// Which instruction a prose mnemonic names: its pattern (`vpu.cvt.<from>.<to>`), or a
/// concrete spelling with allowed dtypes (`mxu.matmul.i8`).
fn names(word: &str, info: &InstInfo) -> bool {
    if word == info.pattern() {
        return true;
    }
    let Some(rest) = word.strip_prefix(info.mnemonic) else {
        return false;
    };
    let parts: Vec<&str> = match rest.strip_prefix('.') {
        Some(r) => r.split('.').collect(),
        None if rest.is_empty() => vec![],
        None => return false,
    };
    parts.len() == info.dtypes.len()
        && parts
            .iter()
            .zip(info.dtypes)
            .all(|(p, slot)| DType::from_name(p).is_some_and(|d| slot.allowed.contains(&d)))
}

#[test]
fn prose_and_table_name_the_same_instructions() {
    let doc = std::fs::read_to_string(doc_path()).unwrap();
    let (head, _, tail) = split(&doc);
    let prose = format!("{head}{tail}");
    let words = prose_mnemonics(&prose);
    assert!(words.len() > 30, "found only {words:?}");

    for w in &words {
        assert!(
            instructions().any(|i| names(w, i)),
            "docs/isa.md mentions `{w}`, which is not an instruction (or uses a dtype it \
             does not allow)"
        );
    }
    let patterns: BTreeSet<&str> = words.iter().map(String::as_str).collect();
    for info in instructions() {
        assert!(
            patterns.contains(info.pattern().as_str()),
            "docs/isa.md never describes `{}` (write its pattern in the prose)",
            info.pattern()
        );
    }
}

#[test]
fn brace_expansion() {
    assert_eq!(
        expand("gather.{sum,mean}.<dtype>"),
        ["gather.sum.<dtype>", "gather.mean.<dtype>"]
    );
    assert_eq!(expand("a.{b,c}.{d,e}").len(), 4);
}

/// The examples in the document are real assembly.
#[test]
fn doc_examples_assemble() {
    let doc = std::fs::read_to_string(doc_path()).unwrap();
    let blocks: Vec<&str> = doc
        .split("```text\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    let listing = blocks
        .iter()
        .find(|b| b.starts_with(".scp"))
        .expect("docs/isa.md has no program listing example");
    let p = seedchip_isa::Program::assemble(listing).unwrap();
    assert_eq!(
        p.disassemble(),
        *listing,
        "the example should be exactly what the disassembler prints"
    );
    let line = blocks
        .iter()
        .find(|b| b.starts_with("mxu.matmul"))
        .expect("docs/isa.md has no instruction example");
    let i: seedchip_isa::Instruction = line.trim_end().parse().unwrap();
    assert_eq!(i.to_string(), line.trim_end());
}
