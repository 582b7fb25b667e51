//! `seedchip isa [MNEMONIC]`: the instruction table, printed from the same table that encodes
//! and decodes, so what the tool shows is what programs contain.

use std::process::ExitCode;

use seedchip_isa::{self as isa, InstInfo};
use serde::Serialize;

use crate::exit::{print_json, print_text, user};

/// Version of the JSON document printed by `isa --json`; bump on incompatible change.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, clap::Args)]
pub struct IsaArgs {
    /// Show one instruction in detail (`mxu.matmul`, or a full spelling like `vpu.cvt.f32.bf16`).
    mnemonic: Option<String>,
    /// Print one JSON document instead of text.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the Markdown table embedded in docs/isa.md.
    #[arg(long)]
    markdown: bool,
}

#[derive(Serialize)]
struct FieldRow {
    name: &'static str,
    kind: &'static str,
    offset_bytes: usize,
    size_bytes: usize,
}

#[derive(Serialize)]
struct SlotRow {
    name: &'static str,
    allowed: Vec<&'static str>,
}

#[derive(Serialize)]
struct InstRow {
    opcode: u8,
    mnemonic: &'static str,
    pattern: String,
    queue: &'static str,
    size_bytes: usize,
    dtypes: Vec<SlotRow>,
    fields: Vec<FieldRow>,
    doc: String,
}

#[derive(Serialize)]
struct IsaDoc {
    schema_version: u32,
    isa_version: u16,
    container_version: u16,
    instructions: Vec<InstRow>,
}

fn row(info: &InstInfo) -> InstRow {
    InstRow {
        opcode: info.opcode.code(),
        mnemonic: info.mnemonic,
        pattern: info.pattern(),
        queue: info.queue.name(),
        size_bytes: info.size,
        dtypes: info
            .dtypes
            .iter()
            .map(|s| SlotRow {
                name: s.name,
                allowed: s.allowed.iter().map(|d| d.name()).collect(),
            })
            .collect(),
        fields: info
            .fields
            .iter()
            .map(|f| FieldRow {
                name: f.name,
                kind: f.kind,
                offset_bytes: f.offset,
                size_bytes: f.size,
            })
            .collect(),
        doc: info.doc.trim().to_string(),
    }
}

fn dtype_line(info: &InstInfo) -> String {
    info.dtypes
        .iter()
        .map(|s| {
            let names: Vec<&str> = s.allowed.iter().map(|d| d.name()).collect();
            format!("{} ∈ {{{}}}", s.name, names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn table_text() -> String {
    let infos: Vec<&InstInfo> = isa::instructions().collect();
    let mut out = format!(
        "SCISA v{}: {} instructions (`seedchip isa MNEMONIC` for one; docs/isa.md for semantics)\n\n",
        isa::ISA_VERSION,
        infos.len()
    );
    out.push_str(&format!(
        "{:<6}  {:<26} {:<6} {:>5}  operands (name:kind)\n",
        "opcode", "instruction", "queue", "bytes"
    ));
    for info in infos {
        let fields: Vec<String> = info
            .fields
            .iter()
            .map(|f| format!("{}:{}", f.name, f.kind))
            .collect();
        out.push_str(&format!(
            "{:<6}  {:<26} {:<6} {:>5}  {}\n",
            format!("{:#04x}", info.opcode.code()),
            info.pattern(),
            info.queue.name(),
            info.size,
            if fields.is_empty() {
                "-".to_string()
            } else {
                fields.join(" ")
            }
        ));
        if !info.dtypes.is_empty() {
            out.push_str(&format!("{:<8}{}\n", "", dtype_line(info)));
        }
    }
    out.push_str(
        "\nEvery instruction also carries a header wait (sem, value) and signal sem: \
         `... ; wait s3>=2 ; signal g0`.\n",
    );
    out
}

fn detail_text(info: &InstInfo) -> String {
    let mut out = format!(
        "{}  (opcode {:#04x}, queue {}, {} bytes)\n\n{}\n",
        info.pattern(),
        info.opcode.code(),
        info.queue.name(),
        info.size,
        info.doc.trim()
    );
    if !info.dtypes.is_empty() {
        out.push_str(&format!("\ndtypes: {}\n", dtype_line(info)));
    }
    out.push_str(&format!(
        "\n  {:<18} {:<6} {:>6} {:>5}\n",
        "operand", "kind", "offset", "bytes"
    ));
    out.push_str(&format!(
        "  {:<18} {:<6} {:>6} {:>5}\n",
        "(header)", "", 0, 8
    ));
    for f in info.fields {
        out.push_str(&format!(
            "  {:<18} {:<6} {:>6} {:>5}\n",
            f.name, f.kind, f.offset, f.size
        ));
    }
    let mut syntax = info.mnemonic.to_string();
    for s in info.dtypes {
        syntax.push_str(&format!(".<{}>", s.name));
    }
    for f in info.fields {
        syntax.push_str(&format!(" {}=<{}>", f.name, f.kind));
    }
    out.push_str(&format!(
        "\nsyntax: {syntax} [; wait sN>=value] [; signal sN]\n"
    ));
    out
}

/// The instruction a user names: base mnemonic, pattern, or a full spelling with dtypes.
fn find(name: &str) -> Option<&'static InstInfo> {
    isa::instructions()
        .filter(|i| {
            name == i.mnemonic
                || name == i.pattern()
                || name
                    .strip_prefix(i.mnemonic)
                    .and_then(|r| r.strip_prefix('.'))
                    .is_some_and(|r| {
                        let parts: Vec<&str> = r.split('.').collect();
                        parts.len() == i.dtypes.len()
                            && parts.iter().all(|p| isa::DType::from_name(p).is_some())
                    })
        })
        .max_by_key(|i| i.mnemonic.len())
}

pub fn run(args: IsaArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.mnemonic {
        let Some(info) = find(name) else {
            let prefix = name.split('.').next().unwrap_or("");
            let near: Vec<String> = isa::instructions()
                .filter(|i| i.queue.name() == prefix)
                .map(|i| i.pattern())
                .collect();
            let hint = if near.is_empty() {
                "instruction classes: dma, gather, mxu, vpu, ctl; `seedchip isa` lists all"
                    .to_string()
            } else {
                format!("{prefix} instructions: {}", near.join(", "))
            };
            return Err(user(format!("unknown instruction `{name}`"), &[&hint]));
        };
        if args.json {
            print_json(&row(info))?;
        } else if args.markdown {
            return Err(user(
                "--markdown prints the whole table; drop the instruction name",
                &[],
            ));
        } else {
            print_text(&detail_text(info))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        print_json(&IsaDoc {
            schema_version: SCHEMA_VERSION,
            isa_version: isa::ISA_VERSION,
            container_version: isa::CONTAINER_VERSION,
            instructions: isa::instructions().map(row).collect(),
        })?;
    } else if args.markdown {
        print_text(&isa::markdown_table())?;
    } else {
        print_text(&table_text())?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_every_instruction_with_its_operands() {
        let text = table_text();
        for info in isa::instructions() {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(info.pattern().as_str()))
                .unwrap_or_else(|| panic!("{} missing from:\n{text}", info.pattern()));
            for f in info.fields {
                assert!(line.contains(&format!("{}:{}", f.name, f.kind)), "{line}");
            }
        }
    }

    #[test]
    fn instructions_are_found_by_any_spelling() {
        assert_eq!(find("mxu.matmul").unwrap().mnemonic, "mxu.matmul");
        assert_eq!(
            find("mxu.matmul.batch").unwrap().mnemonic,
            "mxu.matmul.batch"
        );
        assert_eq!(
            find("mxu.matmul.batch.bf16").unwrap().mnemonic,
            "mxu.matmul.batch"
        );
        assert_eq!(find("vpu.cvt.f32.bf16").unwrap().mnemonic, "vpu.cvt");
        assert_eq!(find("vpu.cvt.<from>.<to>").unwrap().mnemonic, "vpu.cvt");
        assert!(find("vpu.nope").is_none());
        let d = detail_text(find("ctl.wait").unwrap());
        assert!(d.contains("syntax: ctl.wait sem=<sem> value=<u32>"), "{d}");
    }

    #[test]
    fn json_rows_carry_layout() {
        let r = row(isa::Opcode::MxuMatmul.info());
        assert_eq!(r.size_bytes, 64);
        assert_eq!(r.fields[0].offset_bytes, 8);
        assert_eq!(r.dtypes[0].allowed, ["i8", "bf16", "f16", "e4m3", "e5m2"]);
    }
}
