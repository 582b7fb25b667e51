//! Self-contained HTML reports with inline SVG plots, for `seedchip evaluate` and
//! `seedchip sweep report`.
//!
//! Everything here is plain string building with no dependencies: the output is byte-identical
//! for the same input (no clocks, no hash order, fixed float formatting), needs no network to
//! view (no external JS, CSS or fonts) and can be snapshot-tested.
//!
//! The pieces:
//! - [`num`]: how a number is shown ([`num::fmt_num`]). A report shows numbers only through this
//!   function, so a test can check that every number in the HTML is a rounded value from the
//!   report's JSON (`fmt_num(json value) == shown text`).
//! - [`svg`]: charts. [`svg::XyChart`] (lines and/or points on linear or log10 axes, optional
//!   point labels; latency vs batch, throughput vs latency, rooflines, Pareto fronts),
//!   [`svg::BarChart`] (grouped or stacked bars), [`svg::Timeline`] (busy intervals per lane).
//!   Each renders with `to_svg()` into one `<svg class="plot">` element; every data mark carries
//!   `class="mark"`, axis tick labels carry `class="tick"` (they are scale marks, not data).
//! - [`html`]: [`html::Page`], a document builder (headings, paragraphs, tables, figures) with a
//!   built-in stylesheet and a small inline check script: on load it counts each plot's visible
//!   marks into `data-marks` and logs a console error for a plot that drew none, which is what
//!   `scripts/screenshot_report.py` looks for in headless Chromium.
//! - [`write_atomically`]: write next to the target and rename, so readers never see half a file.
//!
//! Example:
//! ```
//! use seedchip_report::html::{Page, Table};
//! use seedchip_report::svg::{Axis, Scale, Series, XyChart};
//!
//! let mut chart = XyChart::new("Latency vs batch", Axis::log("batch"), Axis::log("latency (ms)"));
//! chart.series.push(Series::line_points("chip", vec![(1.0, 0.1), (8.0, 0.3), (64.0, 1.5)]));
//! let mut page = Page::new("Report");
//! page.heading(2, "Latency");
//! page.figure("latency", "Latency by batch size.", &chart.to_svg());
//! let mut t = Table::new(vec!["device".into(), "latency (ms)".into()]);
//! t.row(vec!["chip".into(), seedchip_report::num::fmt_num(0.1)]);
//! page.table(&t);
//! let html = page.finish();
//! assert!(html.contains("<svg") && html.contains("</html>"));
//! ```

pub mod html;
pub mod num;
pub mod svg;

use std::path::{Path, PathBuf};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User: a file could not be written (bad directory, permissions, full disk).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Escapes text for HTML/SVG element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `bytes` to a temporary file next to `path` and renames it over `path`, so a reader
/// (or a crash) never leaves a half-written file at `path`. Creates missing parent directories.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().ok_or_else(|| {
        err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file path",
        ))
    })?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn atomic_write_creates_dirs_and_replaces() {
        let dir = std::env::temp_dir().join(format!("seedchip-report-{}", std::process::id()));
        let p = dir.join("sub/out.txt");
        write_atomically(&p, b"one").unwrap();
        write_atomically(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_write_reports_the_path() {
        let e = write_atomically(Path::new("/proc/definitely/not/here.txt"), b"x").unwrap_err();
        assert!(e.to_string().contains("/proc/definitely/not/here.txt"));
    }
}
