//! TOML loading with source locations: format errors and validation problems both point at a
//! line, a column and a dotted key, because architects edit these files by hand.

use std::ops::Range;
use std::path::Path;

use crate::{Chip, Error, Location, presets};

/// Parses, fills defaults and validates a chip description. `origin` names the file in errors.
pub fn from_toml_str(text: &str, origin: &str) -> Result<Chip, Error> {
    let mut chip: Chip = toml::from_str(text).map_err(|e| format_error(text, origin, &e))?;
    chip.resolve();
    let mut problems = chip.validate();
    if problems.is_empty() {
        return Ok(chip);
    }
    let doc = text.parse::<toml_edit::Document<String>>().ok();
    for p in &mut problems {
        let span = doc.as_ref().and_then(|d| locate(d, &p.key));
        let (line, col) = match span {
            Some(r) => line_col(text, r.start),
            None => (1, 1),
        };
        p.location = Some(Location {
            origin: origin.to_string(),
            line: Some(line),
            col: Some(col),
        });
    }
    Err(Error::Invalid {
        origin: origin.to_string(),
        problems,
    })
}

/// Reads and loads a chip file.
pub fn load_path(path: &Path) -> Result<Chip, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_toml_str(&text, &path.display().to_string())
}

/// A preset name, or else a path to a TOML file: what every `--chip` flag accepts.
pub fn resolve_name_or_path(name: &str) -> Result<Chip, Error> {
    if let Some(chip) = presets::get(name) {
        return Ok(chip);
    }
    let path = Path::new(name);
    if path.exists() {
        return load_path(path);
    }
    Err(Error::UnknownChip {
        name: name.to_string(),
        known: presets::names().iter().map(|s| s.to_string()).collect(),
    })
}

fn format_error(text: &str, origin: &str, e: &toml::de::Error) -> Error {
    let message = e.message().trim().to_string();
    let start = e.span().map(|s| s.start);
    let (line, col) = match start {
        Some(off) => line_col(text, off),
        None => (1, 1),
    };
    let key = backticked_field(&message)
        .map(|field| match start.map(|off| table_path_at(text, off)) {
            Some(table) if !table.is_empty() && !message.starts_with("unknown field") => {
                format!("{table}.{field}")
            }
            Some(table) if !table.is_empty() => format!("{table}.{field}"),
            _ => field,
        })
        .or_else(|| start.map(|off| key_path_at(text, off)))
        .unwrap_or_else(|| "<document>".to_string());
    Error::Format {
        location: Location {
            origin: origin.to_string(),
            line: Some(line),
            col: Some(col),
        },
        key,
        message,
    }
}

/// serde names the offending field in backticks for unknown and missing fields.
fn backticked_field(message: &str) -> Option<String> {
    let is_field_error =
        message.starts_with("unknown field") || message.starts_with("missing field");
    if !is_field_error {
        return None;
    }
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// The `[table]` or `[[array]]` header in force at an offset, as a dotted path.
fn table_path_at(text: &str, offset: usize) -> String {
    let mut current = String::new();
    for line in text[..offset.min(text.len())].lines() {
        let t = line.trim();
        if let Some(inner) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            current = inner.trim().to_string();
        } else if let Some(inner) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            current = inner.trim().to_string();
        }
    }
    current
}

/// The dotted key whose value sits at an offset: header path plus the `key =` on that line.
fn key_path_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let table = table_path_at(text, line_start);
    let key = line.split('=').next().map(str::trim).unwrap_or("");
    let is_key = line.contains('=')
        && !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    let trimmed = line.trim();
    if !is_key && trimmed.starts_with('[') {
        return trimmed
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    match (is_key, table.is_empty()) {
        (true, true) => key.to_string(),
        (true, false) => format!("{table}.{key}"),
        (false, false) => table,
        (false, true) => "<document>".to_string(),
    }
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Seg::Key(name));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Seg::Index(i));
            }
        }
    }
    out
}

/// Byte span of the deepest existing key on a dotted path, so a problem with a defaulted key
/// points at the table that would hold it.
fn locate(doc: &toml_edit::Document<String>, path: &str) -> Option<Range<usize>> {
    use toml_edit::{Item, Table, Value};
    #[derive(Clone, Copy)]
    enum Node<'a> {
        Table(&'a Table),
        Item(&'a Item),
        Value(&'a Value),
    }
    fn normalize(node: Node<'_>) -> Node<'_> {
        match node {
            Node::Item(Item::Table(t)) => Node::Table(t),
            Node::Item(Item::Value(v)) => Node::Value(v),
            other => other,
        }
    }
    let mut node = Node::Table(doc.as_table());
    let mut best = None;
    for seg in segments(path) {
        let next = match (normalize(node), seg) {
            (Node::Table(t), Seg::Key(k)) => {
                if let Some(span) = t.key(k).and_then(|key| key.span()) {
                    best = Some(span);
                }
                t.get(k).map(Node::Item)
            }
            (Node::Value(Value::InlineTable(t)), Seg::Key(k)) => {
                if let Some(span) = t.key(k).and_then(|key| key.span()) {
                    best = Some(span);
                }
                t.get(k).map(Node::Value)
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => a.get(i).map(|t| {
                if let Some(span) = t.span() {
                    best = Some(span);
                }
                Node::Table(t)
            }),
            (Node::Value(Value::Array(a)), Seg::Index(i)) => a.get(i).map(|v| {
                if let Some(span) = v.span() {
                    best = Some(span);
                }
                Node::Value(v)
            }),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    best
}
