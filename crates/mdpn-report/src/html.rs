//! The page kit of every report: self-contained HTML pages with tables and pictures inlined as
//! SVG (the pictures also written as PNG and SVG files).

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::charts;

/// Text safe inside HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An HTML table.
pub fn html_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table>\n<tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s += "</tr>\n";
    for row in rows {
        s += "<tr>";
        for cell in row {
            let _ = write!(s, "<td>{}</td>", esc(cell));
        }
        s += "</tr>\n";
    }
    s + "</table>\n"
}

/// The page around a body.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: right; }}
th {{ background: #eee; }}
td:first-child, td:nth-child(2) {{ text-align: left; }}
figure {{ display: inline-block; margin: 0.5em; }}
svg {{ max-width: 100%; height: auto; }}
</style>
</head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"#,
        title = esc(title)
    )
}

/// Draws a picture into `figures`, inlined in the page; a picture that cannot be drawn is
/// reported on stderr and left out.
pub struct Pictures {
    dir: PathBuf,
    /// Why pictures are off, once known.
    off: Option<String>,
}

impl Pictures {
    pub fn new(dir: PathBuf) -> Pictures {
        let off = charts::use_font().err().map(|e| format!("{e:#}"));
        if let Some(why) = &off {
            eprintln!("warning: pictures left out: {why}");
        }
        Pictures { dir, off }
    }

    pub fn add(&mut self, chart: &impl charts::Chart, stem: &str, caption: &str) -> String {
        if self.off.is_some() {
            return String::new();
        }
        match charts::save(chart, &self.dir, stem) {
            Ok(svg) => format!(
                "<figure>{svg}<figcaption>{} ({stem}.png, {stem}.svg)</figcaption></figure>\n",
                esc(caption)
            ),
            Err(e) => {
                eprintln!("warning: picture {stem} left out: {e:#}");
                String::new()
            }
        }
    }

    pub fn note(&self) -> String {
        match &self.off {
            Some(why) => format!("<p><strong>Pictures left out:</strong> {}</p>\n", esc(why)),
            None => String::new(),
        }
    }
}
