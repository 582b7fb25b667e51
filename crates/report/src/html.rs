//! A self-contained HTML page: [`Page`] collects headings, paragraphs, tables and figures and
//! [`Page::finish`] wraps them with an inline stylesheet and an inline check script. Nothing is
//! loaded from elsewhere (no fonts, CSS, JS or images by URL), so the file opens offline.
//!
//! The check script runs on load: for every `svg.plot` it counts the `.mark` elements that have
//! a non-empty bounding box, stores the count in the svg's `data-marks` attribute and logs
//! `console.error("empty plot: <title>")` when there are none. `scripts/screenshot_report.py`
//! fails on any console error and reads `data-marks` from the rendered DOM.

use std::fmt::Write as _;

use crate::escape;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}\
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
p.note{color:#555;font-size:0.92em}\
table{border-collapse:collapse;margin:12px 0;font-size:0.9em}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}\
td:first-child,th:first-child{text-align:left}\
figure{margin:16px 0;display:inline-block;vertical-align:top}figcaption{font-size:0.88em;color:#444;max-width:680px}\
svg.plot{background:#fff;border:1px solid #e3e3e3;font-size:11px}\
svg .title{font-size:14px;font-weight:600}svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#888}\
svg .tick,svg .category,svg .lane{fill:#444}svg .axis-label{fill:#222;font-size:12px}\
svg .label{fill:#333;font-size:10px}svg .no-data{fill:#b00;font-size:16px}\
";

const CHECK_SCRIPT: &str = "\
window.addEventListener('load',function(){\
document.querySelectorAll('svg.plot').forEach(function(svg){\
var n=0;svg.querySelectorAll('.mark').forEach(function(m){var b=m.getBBox();if(b.width>0||b.height>0)n++;});\
svg.setAttribute('data-marks',String(n));\
if(n===0){console.error('empty plot: '+(svg.getAttribute('aria-label')||'?'));}\
});document.body.setAttribute('data-checked','yes');});";

/// A table: a header row and body rows of already formatted cells (format numbers with
/// [`crate::num::fmt_num`]). Cells are escaped when written.
#[derive(Debug, Clone)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Written as the table's `id` (for tests and links) when set.
    pub id: Option<String>,
}

impl Table {
    pub fn new(header: Vec<String>) -> Table {
        Table {
            header,
            rows: Vec::new(),
            id: None,
        }
    }
    pub fn with_id(mut self, id: &str) -> Table {
        self.id = Some(id.into());
        self
    }
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The `<table>` element.
    pub fn to_html(&self) -> String {
        let mut s = String::new();
        match &self.id {
            Some(id) => {
                let _ = write!(s, "<table id=\"{}\">", escape(id));
            }
            None => s.push_str("<table>"),
        }
        s.push_str("<thead><tr>");
        for h in &self.header {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        s.push_str("</tr></thead><tbody>");
        for r in &self.rows {
            s.push_str("<tr>");
            for c in r {
                let _ = write!(s, "<td>{}</td>", escape(c));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>\n");
        s
    }
}

/// A page under construction.
#[derive(Debug, Clone)]
pub struct Page {
    title: String,
    body: String,
}

impl Page {
    pub fn new(title: &str) -> Page {
        Page {
            title: title.into(),
            body: String::new(),
        }
    }

    /// `<h1>`..`<h6>` (level clamped to 1..=6).
    pub fn heading(&mut self, level: u8, text: &str) {
        let l = level.clamp(1, 6);
        let _ = writeln!(self.body, "<h{l}>{}</h{l}>", escape(text));
    }

    /// A `<p>` of escaped text.
    pub fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// A smaller, grey `<p class="note">` (assumptions, sources).
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p class=\"note\">{}</p>", escape(text));
    }

    pub fn table(&mut self, t: &Table) {
        self.body.push_str(&t.to_html());
    }

    /// A `<figure id=...>` holding an SVG from [`crate::svg`] (inserted as is: it must be one
    /// of this crate's charts or equally trusted markup) and an escaped caption.
    pub fn figure(&mut self, id: &str, caption: &str, svg: &str) {
        let _ = writeln!(
            self.body,
            "<figure id=\"{}\">{svg}<figcaption>{}</figcaption></figure>",
            escape(id),
            escape(caption)
        );
    }

    /// Trusted markup inserted as is.
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
    }

    /// The whole document.
    pub fn finish(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title><style>{STYLE}</style></head>\n<body>\n{}\
             <script>{CHECK_SCRIPT}</script>\n</body></html>\n",
            escape(&self.title),
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_self_contained_and_escaped() {
        let mut p = Page::new("A & B");
        p.heading(1, "<x>");
        p.paragraph("1 < 2");
        let mut t = Table::new(vec!["k".into(), "v".into()]).with_id("t1");
        t.row(vec!["a\"b".into(), "3".into()]);
        p.table(&t);
        p.figure("f", "cap", "<svg class=\"plot\"></svg>");
        let h = p.finish();
        assert!(h.starts_with("<!DOCTYPE html>"));
        assert!(h.contains("<title>A &amp; B</title>"));
        assert!(h.contains("<h1>&lt;x&gt;</h1>"));
        assert!(h.contains("<table id=\"t1\">"));
        assert!(h.contains("<td>a&quot;b</td>"));
        assert!(!h.contains("http://") || !h.contains("src=\"http"));
        assert!(!h.contains("<link") && !h.contains("src="));
    }
}
