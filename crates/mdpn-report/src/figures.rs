//! The figures of runs and studies: learning curves, confusion-matrix heat maps, per-class
//! accuracy, and accuracy against model size, drawn with the chart kit of [`crate::charts`].

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::charts::{blank_with_title, classes, colour, de, draw_legend, text, Chart, FONT};
use mdpn_runs::metrics::EpochMetrics;

/// Loss and accuracy per epoch on the training, validation and test images.
pub struct LearningCurves {
    pub title: String,
    pub metrics: Vec<EpochMetrics>,
}

impl Chart for LearningCurves {
    fn size(&self) -> (u32, u32) {
        (1000, 420)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let area = blank_with_title(area, &self.title)?;
        let (left, right) = area.split_horizontally(500);
        let m = &self.metrics;
        let epochs = m.len().max(2) as f64;
        type Pick = fn(&EpochMetrics) -> f64;
        let panels: [(&DrawingArea<DB, Shift>, &str, [Pick; 3]); 2] = [
            (
                &left,
                "loss",
                [|e| e.train_loss, |e| e.val_loss, |e| e.test_loss],
            ),
            (
                &right,
                "accuracy (%)",
                [
                    |e| 100.0 * e.train_acc,
                    |e| 100.0 * e.val_acc,
                    |e| 100.0 * e.test_acc,
                ],
            ),
        ];
        for (panel, name, picks) in panels {
            let values: Vec<f64> = picks.iter().flat_map(|p| m.iter().map(p)).collect();
            let (lo, hi) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let pad = ((hi - lo) * 0.1).max(1e-3);
            let (lo, hi) = if values.is_empty() {
                (0.0, 1.0)
            } else {
                (lo - pad, hi + pad)
            };
            let mut chart = ChartBuilder::on(panel)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(1f64..epochs, lo..hi)
                .map_err(de)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(name)
                .x_labels(m.len().clamp(2, 12))
                .x_label_formatter(&|v| {
                    if (v - v.round()).abs() < 1e-9 {
                        format!("{v:.0}")
                    } else {
                        String::new()
                    }
                })
                .label_style(text(13))
                .axis_desc_style(text(14))
                .draw()
                .map_err(de)?;
            for (i, (pick, label)) in picks
                .iter()
                .zip(["train", "validation", "test"])
                .enumerate()
            {
                let c = colour(i);
                chart
                    .draw_series(
                        LineSeries::new(
                            m.iter().map(|e| (e.epoch as f64, pick(e))),
                            c.stroke_width(2),
                        )
                        .point_size(3),
                    )
                    .map_err(de)?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                    });
            }
            // Loss falls and accuracy rises: the legend goes where the curves are not.
            let position = if name == "loss" {
                SeriesLabelPosition::UpperRight
            } else {
                SeriesLabelPosition::LowerRight
            };
            draw_legend(&mut chart, 13, position)?;
        }
        Ok(())
    }
}

/// A confusion matrix as a heat map: rows are true classes, columns predictions, the colour
/// the share of the row, the number the count of images.
pub struct Confusion {
    pub title: String,
    pub class_names: Vec<String>,
    pub confusion: Vec<u64>,
}

impl Chart for Confusion {
    fn size(&self) -> (u32, u32) {
        (760, 700)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let area = blank_with_title(area, &self.title)?;
        let n = self.class_names.len();
        let names = &self.class_names;
        let mut chart = ChartBuilder::on(&area)
            .margin(15)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(classes(n).into_segmented(), classes(n).into_segmented())
            .map_err(de)?;
        // Row 0 at the top: the y coordinate of true class t is n - 1 - t.
        let name_of = |v: &SegmentValue<i32>, flip: bool| match v {
            SegmentValue::CenterOf(i) => {
                let i = if flip { n as i32 - 1 - i } else { *i };
                names.get(i as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted")
            .y_desc("true")
            .x_labels(n)
            .y_labels(n)
            .label_style(text(12))
            .axis_desc_style(text(14))
            .x_label_formatter(&|v| name_of(v, false))
            .y_label_formatter(&|v| name_of(v, true))
            .draw()
            .map_err(de)?;
        let mut cells = Vec::new();
        let mut labels = Vec::new();
        for t in 0..n {
            let row = &self.confusion[t * n..][..n];
            let total = row.iter().sum::<u64>().max(1) as f64;
            for (p, &count) in row.iter().enumerate() {
                let share = count as f64 / total;
                // White to dark blue.
                let mix = |full: u8| (255.0 - share * (255.0 - full as f64)) as u8;
                let fill = RGBColor(mix(8), mix(48), mix(107));
                let y = (n - 1 - t) as i32;
                let x = p as i32;
                cells.push(Rectangle::new(
                    [
                        (SegmentValue::Exact(x), SegmentValue::Exact(y + 1)),
                        (SegmentValue::Exact(x + 1), SegmentValue::Exact(y)),
                    ],
                    fill.filled(),
                ));
                let ink = if share > 0.5 { WHITE } else { BLACK };
                labels.push(Text::new(
                    count.to_string(),
                    (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                    (FONT, 13)
                        .into_font()
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ));
            }
        }
        chart.draw_series(cells).map_err(de)?;
        chart.draw_series(labels).map_err(de)?;
        Ok(())
    }
}

/// Test accuracy of every class, one bar per model.
pub struct PerClass {
    pub title: String,
    pub class_names: Vec<String>,
    /// Model name and its accuracy per class (0–1).
    pub models: Vec<(String, Vec<f64>)>,
}

impl Chart for PerClass {
    fn size(&self) -> (u32, u32) {
        (1000, 460)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let area = blank_with_title(area, &self.title)?;
        let n = self.class_names.len();
        let names = &self.class_names;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(classes(n).into_segmented(), 0f64..118.0)
            .map_err(de)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc("test accuracy (%)")
            .label_style(text(12))
            .axis_desc_style(text(14))
            .draw()
            .map_err(de)?;
        // Each class's segment is split into one slot per model, with a gap on both sides;
        // bars are drawn in pixels on the plotting area.
        let plot = chart.plotting_area();
        let (xr, yr) = plot.get_pixel_range();
        let (w, h) = ((xr.end - xr.start) as f64, (yr.end - yr.start) as f64);
        let bare = plot.strip_coord_spec();
        let slots = self.models.len().max(1) as f64;
        let seg = w / n.max(1) as f64;
        let bar = seg * 0.8 / slots;
        let y_of = |acc: f64| (h * (1.0 - 100.0 * acc / 118.0)) as i32;
        for (m, (_, accs)) in self.models.iter().enumerate() {
            let c = colour(m);
            for (class, &acc) in accs.iter().enumerate() {
                let x0 = seg * class as f64 + seg * 0.1 + bar * m as f64;
                bare.draw(&Rectangle::new(
                    [(x0 as i32, y_of(acc)), ((x0 + bar) as i32 - 1, y_of(0.0))],
                    c.filled(),
                ))
                .map_err(de)?;
            }
        }
        // Legend above the bars (the axis runs past 100 %), entries left to right, wrapping.
        let (mut lx, mut ly) = (10, 6);
        for (m, (model, _)) in self.models.iter().enumerate() {
            let width = 34 + 7 * model.chars().count() as i32;
            if lx + width > w as i32 && lx > 10 {
                (lx, ly) = (10, ly + 20);
            }
            bare.draw(&Rectangle::new(
                [(lx, ly), (lx + 14, ly + 14)],
                colour(m).filled(),
            ))
            .map_err(de)?;
            bare.draw(&Text::new(model.clone(), (lx + 20, ly), text(13)))
                .map_err(de)?;
            lx += width;
        }
        Ok(())
    }
}

/// Mean test accuracy (± standard deviation over seeds) against model size in bytes, one
/// colour per model family, the int8 model (a hollow circle) and the int4 one (a hollow triangle)
/// joined to the f32 model by a dashed line.
pub struct AccuracyVsSize {
    pub title: String,
    pub models: Vec<SizedModel>,
}

/// One model of [`AccuracyVsSize`]: accuracies are 0–1.
pub struct SizedModel {
    /// `mdpn`, `mlp`, `cnn`, or a variant such as `mdpn[dendrites=8]`.
    pub name: String,
    pub bytes: usize,
    pub mean: f64,
    pub std: f64,
    /// The int8 model's file size and test accuracy (mean, standard deviation).
    pub int8: Option<(usize, f64, f64)>,
    /// The same of the model with int4 hidden layers.
    pub int4: Option<(usize, f64, f64)>,
}

impl SizedModel {
    /// The family (`mdpn`) and the setting (`dendrites=8`) of the name.
    fn family_and_setting(&self) -> (&str, &str) {
        match self.name.split_once('[') {
            Some((family, rest)) => (family, rest.trim_end_matches(']')),
            None => (&self.name, ""),
        }
    }
}

impl Chart for AccuracyVsSize {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let area = blank_with_title(area, &self.title)?;
        let points = || {
            self.models
                .iter()
                .flat_map(|m| [Some((m.bytes, m.mean, m.std)), m.int8, m.int4])
                .flatten()
        };
        let lo_b = points()
            .map(|p| p.0 as f64)
            .fold(f64::INFINITY, f64::min)
            .max(1.0);
        let hi_b = points().map(|p| p.0 as f64).fold(1.0, f64::max);
        let lo_a = points().map(|p| p.1 - p.2).fold(1.0, f64::min);
        let hi_a = points().map(|p| p.1 + p.2).fold(0.0, f64::max);
        let pad = ((hi_a - lo_a) * 0.1).max(0.005);
        let mut chart = ChartBuilder::on(&area)
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (lo_b / 1.5).log10()..(hi_b * 1.5).log10(),
                100.0 * (lo_a - pad)..100.0 * (hi_a + pad),
            )
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc(
                "model size (log scale; kB = 1000 bytes): f32 filled, int8 hollow, int4 triangle",
            )
            .y_desc("test accuracy (%)")
            .x_labels(10)
            .x_label_formatter(&|v| {
                // The axis holds log10 of the size, which plotters labels every 0.2: sizes of
                // two significant digits (40 kB, 63 kB, 100 kB, 160 kB, ...).
                let b = 10f64.powf(*v);
                let digits = 10f64.powf(b.log10().floor() - 1.0);
                let b = (b / digits).round() * digits;
                if b >= 1e6 {
                    format!("{} MB", b / 1e6)
                } else {
                    format!("{} kB", b / 1e3)
                }
            })
            .label_style(text(12))
            .axis_desc_style(text(14))
            .draw()
            .map_err(de)?;
        let mut families: Vec<&str> = Vec::new();
        for m in &self.models {
            let (family, setting) = m.family_and_setting();
            let known = families.iter().position(|f| *f == family);
            let i = known.unwrap_or_else(|| {
                families.push(family);
                families.len() - 1
            });
            let c = colour(i);
            // A point with its error bar: f32 filled, int8 a hollow circle, int4 a hollow triangle.
            let at = |(bytes, mean, std): (usize, f64, f64), bits: u32| {
                let x = (bytes as f64).log10();
                let y = 100.0 * mean;
                let hollow = c.stroke_width(2);
                let marker = match bits {
                    32 => Circle::new((x, y), 5, c.filled()).into_dyn(),
                    8 => Circle::new((x, y), 5, hollow).into_dyn(),
                    _ => TriangleMarker::new((x, y), 6, hollow).into_dyn(),
                };
                [
                    ErrorBar::new_vertical(
                        x,
                        100.0 * (mean - std),
                        y,
                        100.0 * (mean + std),
                        c.stroke_width(1),
                        8,
                    )
                    .into_dyn(),
                    marker,
                ]
            };
            let f32_point = (m.bytes, m.mean, m.std);
            let series = chart.draw_series(at(f32_point, 32)).map_err(de)?;
            // One legend entry per family, on its first model.
            if known.is_none() {
                series
                    .label(family)
                    .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
            }
            let mut from = f32_point;
            for (point, bits) in [(m.int8, 8), (m.int4, 4)] {
                let Some(point) = point else { continue };
                chart
                    .draw_series(DashedLineSeries::new(
                        [from, point].map(|(b, mean, _)| ((b as f64).log10(), 100.0 * mean)),
                        4,
                        3,
                        c.stroke_width(1),
                    ))
                    .map_err(de)?;
                chart.draw_series(at(point, bits)).map_err(de)?;
                from = point;
            }
            // The family names the base models; a variant is named by its setting, in the
            // paper's letters where it has them; a baseline's size is its place on the axis.
            let label = match setting.split_once('=') {
                None => family.to_string(),
                Some(("dendrites", m)) => format!("M={m}"),
                Some(("hidden", h)) => format!("h={h}"),
                Some(("params", _)) => String::new(),
                Some(_) => setting.to_string(),
            };
            chart
                .draw_series([Text::new(
                    label,
                    ((m.bytes as f64).log10(), 100.0 * m.mean),
                    text(11).pos(Pos::new(HPos::Left, VPos::Bottom)),
                )])
                .map_err(de)?;
        }
        draw_legend(&mut chart, 13, SeriesLabelPosition::LowerRight)
    }
}
