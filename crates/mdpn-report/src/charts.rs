//! The chart kit: pictures drawn with `plotters` and written as PNG and SVG, the font, colours
//! and legend they share, and the general bars, lines and mosaics of small maps that
//! `mdpn inspect` draws. The figures of runs and studies are [`crate::figures`].
//!
//! Text is drawn with a TrueType font read from disk (Debian: `fonts-dejavu-core`); without one
//! no picture can be drawn, and [`use_font`] says so instead of failing later.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{anyhow, Context};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Font files tried in order, unless `$MDPN_FONT` names one.
const FONT_FILES: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Family name the pictures use.
pub(crate) const FONT: &str = "sans-serif";

/// Loads and registers the font once; the error says what is missing.
pub fn use_font() -> anyhow::Result<()> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let candidates: Vec<PathBuf> = match std::env::var_os("MDPN_FONT") {
                Some(file) => vec![PathBuf::from(file)],
                None => FONT_FILES.iter().map(PathBuf::from).collect(),
            };
            let path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
                format!(
                    "no font to draw pictures with: install the Debian package fonts-dejavu-core or set MDPN_FONT to a .ttf file (looked for {})",
                    candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                )
            })?;
            let bytes = fs::read(path).map_err(|e| format!("cannot read font {}: {e}", path.display()))?;
            // plotters keeps fonts for the life of the program.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font(FONT, FontStyle::Normal, bytes)
                .map_err(|_| format!("{} is not a TrueType font", path.display()))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// A drawing error as text (the backends' error types differ).
pub(crate) fn de<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw: {e:?}")
}

/// Something that can be drawn on any backend.
pub trait Chart {
    /// Pixel size.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>;
}

/// Writes `chart` as `<stem>.png` and `<stem>.svg` in `dir`, and returns the SVG text.
pub fn save(chart: &impl Chart, dir: &Path, stem: &str) -> anyhow::Result<String> {
    use_font()?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
        chart.draw(&area)?;
        area.present().map_err(de)?;
    }
    let svg_path = dir.join(format!("{stem}.svg"));
    fs::write(&svg_path, &svg).with_context(|| format!("cannot write {}", svg_path.display()))?;
    let png_path = dir.join(format!("{stem}.png"));
    let area = BitMapBackend::new(&png_path, chart.size()).into_drawing_area();
    chart.draw(&area)?;
    area.present()
        .map_err(de)
        .with_context(|| format!("cannot write {}", png_path.display()))?;
    Ok(svg)
}

/// `area` filled white, with `title` on top; returns the area below the title.
pub(crate) fn blank_with_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> anyhow::Result<DrawingArea<DB, Shift>> {
    area.fill(&WHITE).map_err(de)?;
    area.titled(title, text(20).pos(Pos::new(HPos::Center, VPos::Top)))
        .map_err(de)
}

/// The legend of `chart`'s labelled series at `position`, in a box over a white veil.
pub(crate) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    font_size: u32,
    position: SeriesLabelPosition,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .label_font(text(font_size))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(de)
}

pub(crate) fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// The coordinate range of `n` classes: plotters' integer ranges include their end.
pub(crate) fn classes(n: usize) -> std::ops::Range<i32> {
    0..n as i32 - 1
}

/// Colour of series `i`.
pub(crate) fn colour(i: usize) -> RGBColor {
    const COLOURS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    COLOURS[i % COLOURS.len()]
}

/// Bars with a name each, one stack of series per bar (a single series is plain bars); values
/// may be negative when there is one series.
pub struct Bars {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub labels: Vec<String>,
    /// Series name and one value per bar, stacked in this order.
    pub series: Vec<(String, Vec<f64>)>,
    /// Colour of each series (default: the usual colours in order).
    pub colours: Option<Vec<RGBColor>>,
    pub size: (u32, u32),
}

impl Chart for Bars {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let area = blank_with_title(area, &self.title)?;
        let n = self.labels.len().max(1);
        let colour_of = |i: usize| match &self.colours {
            Some(c) => c[i % c.len()],
            None => colour(i),
        };
        let tops: Vec<f64> = (0..n)
            .map(|b| {
                self.series
                    .iter()
                    .map(|s| s.1.get(b).copied().unwrap_or(0.0))
                    .sum()
            })
            .collect();
        let lo = tops.iter().fold(0f64, |a, &v| a.min(v));
        let hi = tops.iter().fold(0f64, |a, &v| a.max(v));
        let pad = ((hi - lo) * 0.08).max(1e-9);
        let legend = if self.series.len() > 1 {
            0.12 * (hi - lo)
        } else {
            0.0
        };
        let (lo, hi) = (if lo < 0.0 { lo - pad } else { 0.0 }, hi + pad + legend);
        let names = &self.labels;
        let every = n.div_ceil(30);
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(classes(n).into_segmented(), lo..hi)
            .map_err(de)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if (*i as usize).is_multiple_of(every) => {
                    names.get(*i as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .label_style(text(12))
            .axis_desc_style(text(14))
            .draw()
            .map_err(de)?;
        let mut base = vec![0.0; n];
        for (s, (name, values)) in self.series.iter().enumerate() {
            let c = colour_of(s);
            chart
                .draw_series(values.iter().enumerate().map(|(b, &v)| {
                    let x = b as i32;
                    let (y0, y1) = (base[b], base[b] + v);
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(x), y0),
                            (SegmentValue::Exact(x + 1), y1),
                        ],
                        c.filled(),
                    )
                }))
                .map_err(de)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], c.filled()));
            for (b, &v) in values.iter().enumerate() {
                base[b] += v;
            }
        }
        if self.series.len() > 1 {
            draw_legend(&mut chart, 13, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

/// Lines through points, one per series, with a legend.
pub struct Lines {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    /// Series name and its points.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Whether the x axis is logarithmic (all x must then be positive).
    pub log_x: bool,
    pub size: (u32, u32),
}

impl Chart for Lines {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let area = blank_with_title(area, &self.title)?;
        // A logarithmic axis is drawn as log10(x), labelled with x.
        let x_of = |x: f64| if self.log_x { x.log10() } else { x };
        let points = self.series.iter().flat_map(|s| s.1.iter());
        let bounds = |pick: &dyn Fn(&(f64, f64)) -> f64| {
            let (lo, hi) = points
                .clone()
                .map(pick)
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            if lo <= hi {
                let pad = ((hi - lo) * 0.05).max(1e-6);
                (lo - pad, hi + pad)
            } else {
                (0.0, 1.0)
            }
        };
        let (x0, x1) = bounds(&|p| x_of(p.0));
        let (y0, y1) = bounds(&|p| p.1);
        let log_x = self.log_x;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .x_label_formatter(&|v| {
                if log_x {
                    format!("{:.3}", 10f64.powf(*v))
                } else {
                    format!("{v:.2}")
                }
            })
            .label_style(text(12))
            .axis_desc_style(text(14))
            .draw()
            .map_err(de)?;
        for (i, (name, pts)) in self.series.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|&(x, y)| (x_of(x), y)),
                    c.stroke_width(2),
                ))
                .map_err(de)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        draw_legend(&mut chart, 12, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}

/// One small picture of a mosaic: `width × height` coloured cells, a caption, and boxes
/// `[column, row, width, height]` (in cells) outlined on top.
pub struct Tile {
    pub caption: String,
    pub width: usize,
    pub height: usize,
    pub cells: Vec<RGBColor>,
    pub boxes: Vec<[usize; 4]>,
}

/// Tiles in a grid, each cell `cell` pixels wide, with a legend of named colours.
pub struct Mosaic {
    pub title: String,
    pub tiles: Vec<Tile>,
    pub columns: usize,
    pub cell: u32,
    pub legend: Vec<(String, RGBColor)>,
}

impl Mosaic {
    /// Title, legend and caption heights, gap between tiles, in pixels.
    const TITLE: u32 = 34;
    const LEGEND: u32 = 24;
    const CAPTION: u32 = 18;
    const GAP: u32 = 10;

    fn tile_size(&self) -> (u32, u32) {
        let w = self.tiles.iter().map(|t| t.width).max().unwrap_or(1) as u32;
        let h = self.tiles.iter().map(|t| t.height).max().unwrap_or(1) as u32;
        (w * self.cell, h * self.cell + Self::CAPTION)
    }
}

impl Chart for Mosaic {
    fn size(&self) -> (u32, u32) {
        let (tw, th) = self.tile_size();
        let cols = self.columns.clamp(1, self.tiles.len().max(1)) as u32;
        let rows = self.tiles.len().div_ceil(cols as usize).max(1) as u32;
        let legend = if self.legend.is_empty() {
            0
        } else {
            Self::LEGEND
        };
        let width = (cols * (tw + Self::GAP) + Self::GAP).max(360);
        (
            width,
            Self::TITLE + legend + rows * (th + Self::GAP) + Self::GAP,
        )
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        area.fill(&WHITE).map_err(de)?;
        let (tw, th) = self.tile_size();
        let cols = self.columns.clamp(1, self.tiles.len().max(1));
        area.draw(&Text::new(
            self.title.clone(),
            (area.dim_in_pixel().0 as i32 / 2, 8),
            text(20).pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(de)?;
        let mut lx = Self::GAP as i32;
        let ly = Self::TITLE as i32;
        for (name, c) in &self.legend {
            area.draw(&Rectangle::new([(lx, ly), (lx + 14, ly + 14)], c.filled()))
                .map_err(de)?;
            area.draw(&Rectangle::new([(lx, ly), (lx + 14, ly + 14)], BLACK))
                .map_err(de)?;
            area.draw(&Text::new(name.clone(), (lx + 20, ly), text(13)))
                .map_err(de)?;
            lx += 34 + 8 * name.chars().count() as i32;
        }
        let top = Self::TITLE
            + if self.legend.is_empty() {
                0
            } else {
                Self::LEGEND
            };
        let s = self.cell as i32;
        for (i, tile) in self.tiles.iter().enumerate() {
            let x0 = (Self::GAP + (i % cols) as u32 * (tw + Self::GAP)) as i32;
            let y0 = (top + Self::GAP + (i / cols) as u32 * (th + Self::GAP)) as i32;
            area.draw(&Text::new(tile.caption.clone(), (x0, y0), text(12)))
                .map_err(de)?;
            let y0 = y0 + Self::CAPTION as i32;
            for (at, c) in tile.cells.iter().enumerate() {
                let (r, col) = (
                    (at / tile.width.max(1)) as i32,
                    (at % tile.width.max(1)) as i32,
                );
                let (x, y) = (x0 + col * s, y0 + r * s);
                area.draw(&Rectangle::new([(x, y), (x + s, y + s)], c.filled()))
                    .map_err(de)?;
            }
            let (w, h) = (tile.width as i32 * s, tile.height as i32 * s);
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + w, y0 + h)],
                RGBColor(128, 128, 128),
            ))
            .map_err(de)?;
            for &[c, r, bw, bh] in &tile.boxes {
                let (x, y) = (x0 + c as i32 * s, y0 + r as i32 * s);
                area.draw(&Rectangle::new(
                    [(x, y), (x + bw as i32 * s, y + bh as i32 * s)],
                    RGBColor(255, 140, 0).stroke_width(1),
                ))
                .map_err(de)?;
            }
        }
        Ok(())
    }
}

/// Gray level of `v` between `lo` (black) and `hi` (white).
pub fn gray(v: f32, (lo, hi): (f32, f32)) -> RGBColor {
    let t = if hi > lo {
        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let g = (255.0 * t) as u8;
    RGBColor(g, g, g)
}

/// Blue (negative) through white (0) to red (positive), saturated at `±limit`.
pub fn diverging(v: f32, limit: f32) -> RGBColor {
    let t = if limit > 0.0 {
        (v / limit).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let fade = |full: u8| (255.0 - t.abs() * (255.0 - full as f32)) as u8;
    if t >= 0.0 {
        RGBColor(fade(178), fade(24), fade(43))
    } else {
        RGBColor(fade(33), fade(102), fade(172))
    }
}

/// Dark blue (low) through green to yellow (high), a perceptually ordered heat map.
pub fn heat(v: f32, (lo, hi): (f32, f32)) -> RGBColor {
    const STOPS: [(f32, f32, f32); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if hi > lo {
        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let at = t * (STOPS.len() - 1) as f32;
    let i = (at as usize).min(STOPS.len() - 2);
    let f = at - i as f32;
    let mix = |a: f32, b: f32| (a + (b - a) * f) as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The smallest and largest finite value of `v`.
pub fn range(v: &[f32]) -> (f32, f32) {
    v.iter()
        .filter(|x| x.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}
