//! Inside a trained neuron (`mdpn inspect`, Python's `mdpn.inspect`). What every synapse does over the input range
//! (direct, inverse, constant-1, constant-0), images followed through the layers with their
//! saliency, and how much each dendrite matters, as `report.html`, pictures and CSV files.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mdpn::dendrite_importance::{importance, Importance};
use mdpn::kernels::plain;
use mdpn::layers::axon;
use mdpn::layers::synapse::synapse;
use mdpn::model_file::ModelFile;
use mdpn::synapse_states::{self, input_range, State, Synapse, DEFAULT_TOLERANCE, TOLERANCES};
use mdpn::{Config, Images, KernelChoice, Mdpn, Task};
use mdpn_data::datasets::{decode_image, DataArgs};
use mdpn_data::decoded_image::planes;
use mdpn_data::for_model::load_data_for;
use mdpn_runs::files::write_atomic;
use mdpn_runs::model_args::ModelArgs;
use plotters::style::RGBColor;

use crate::charts::{diverging, gray, heat, range, Bars, Lines, Mosaic, Tile};
use crate::html::{esc, html_table, page, Pictures};

/// What to inspect: the options of `mdpn inspect`, and the keyword arguments of Python's
/// `mdpn.inspect`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct InspectArgs {
    /// Model file (`mdpn train` or `mdpn prune` output).
    pub model: PathBuf,
    /// Data set whose test images are followed through the neuron and rank the dendrites.
    #[cfg_attr(feature = "clap", arg(long))]
    pub dataset: Option<String>,
    /// Folder searched first for known data sets.
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_dir: Option<PathBuf>,
    /// A PNG or JPEG image to follow through the neuron (repeatable).
    #[cfg_attr(feature = "clap", arg(long = "image"))]
    pub images: Vec<PathBuf>,
    /// Test images of `--dataset` to follow when no `--image` is given.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3))]
    pub examples: usize,
    /// Tolerance on `|Y(hi) − Y(lo)|` below which a synapse counts as constant.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_TOLERANCE))]
    pub tolerance: f32,
    /// Output folder (default: `inspect-<model file name>` next to the model).
    #[cfg_attr(feature = "clap", arg(long))]
    pub out: Option<PathBuf>,
}

impl InspectArgs {
    /// The report of the model file `model` as `mdpn inspect MODEL` writes it: no data set, three
    /// examples, the default tolerance, beside the model.
    pub fn new(model: PathBuf) -> InspectArgs {
        InspectArgs {
            model,
            dataset: None,
            data_dir: None,
            images: Vec::new(),
            examples: 3,
            tolerance: DEFAULT_TOLERANCE,
            out: None,
        }
    }
}

/// Colours of the states, in [`State::ALL`] order: red follows the pixel, blue opposes it,
/// light and dark gray stay near 1 and 0.
pub const STATE_COLOURS: [RGBColor; 4] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(215, 215, 215),
    RGBColor(60, 60, 60),
];

fn state_colour(s: State) -> RGBColor {
    STATE_COLOURS[State::ALL.iter().position(|&t| t == s).expect("a state")]
}

/// Writes the report of `args` (`report.html`, its pictures and CSV files) and returns its
/// folder.
pub fn inspect(args: &InspectArgs) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        args.tolerance > 0.0 && args.tolerance < 1.0,
        "--tolerance must be between 0 and 1, got {}",
        args.tolerance
    );
    let file = ModelArgs::path(&args.model).load()?;
    let out = args.out.clone().unwrap_or_else(|| {
        let name = args.model.file_stem().unwrap_or_default().to_string_lossy();
        args.model.with_file_name(format!("inspect-{name}"))
    });
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let cfg = &file.model.config;
    let data = match &args.dataset {
        Some(dataset) => Some(load_data_for(
            cfg,
            &DataArgs {
                dataset: dataset.clone(),
                data_dir: args.data_dir.clone(),
                ..Default::default()
            },
        )?),
        None => None,
    };
    // The images to follow: files first, else the first test images of the data set.
    let mut examples: Vec<(String, Vec<u8>, Option<u32>)> = Vec::new();
    anyhow::ensure!(
        cfg.channels == 1 || cfg.channels == 3 || args.images.is_empty(),
        "--image needs a gray or RGB model; this one takes {} channels",
        cfg.channels
    );
    for path in &args.images {
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let img = decode_image(&bytes)
            .with_context(|| format!("{} is not a readable PNG or JPEG image", path.display()))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        examples.push((
            name.into_owned(),
            planes(img, cfg.image_size as u32, cfg.channels),
            None,
        ));
    }
    if let (true, Some(data)) = (examples.is_empty(), &data) {
        for i in 0..args.examples.min(data.test.len()) {
            let label = data.test.labels[i];
            examples.push((
                format!("test image {i}"),
                data.test.image(i).to_vec(),
                Some(label),
            ));
        }
    }

    let mut pictures = Pictures::new(out.join("figures"));
    let mut body = pictures.note();
    let synapses = synapse_states::synapses(&file.model, args.tolerance);
    body += &headline(&file, args, &synapses);
    body += &states_section(&file.model, &synapses, args.tolerance, &out, &mut pictures)?;
    let mut csv = ImageCsv {
        probabilities: String::from("image,label,predicted"),
        saliency: String::from("image,channel,row,column,saliency\n"),
    };
    for c in 0..cfg.classes {
        let _ = write!(csv.probabilities, ",p{c}");
    }
    csv.probabilities += "\n";
    for (i, (name, pixels, label)) in examples.iter().enumerate() {
        body += &image_section(&file, i, name, pixels, *label, &mut csv, &mut pictures)?;
    }
    if !examples.is_empty() {
        write_atomic(&out.join("images.csv"), csv.probabilities.as_bytes())?;
        write_atomic(&out.join("saliency.csv"), csv.saliency.as_bytes())?;
    }
    if let Some(data) = &data {
        body += &importance_section(&file.model, &data.test, &out, &mut pictures)?;
    }
    let path = out.join("report.html");
    let title = format!("Inside the neuron: {}", args.model.display());
    write_atomic(&path, page(&title, &body).as_bytes())?;
    Ok(out)
}

/// What a reader wants first: the model, and how many synapses are in each state.
fn headline(file: &ModelFile, args: &InspectArgs, synapses: &[Synapse]) -> String {
    let cfg = &file.model.config;
    let counts = synapse_states::counts(synapses);
    let (lo, hi) = input_range(cfg);
    let share = |n: usize| format!("{n} ({:.1}%)", 100.0 * n as f64 / synapses.len() as f64);
    let mut rows = vec![
        vec!["Model".into(), args.model.display().to_string()],
        vec![
            "Dendrites × synapses".into(),
            format!(
                "{} channel(s) × {} × {}×{} = {}",
                cfg.channels,
                cfg.dendrites,
                cfg.window,
                cfg.window,
                synapses.len()
            ),
        ],
        vec!["Parameters".into(), cfg.parameter_count().to_string()],
        vec![
            "Input range".into(),
            format!("[{lo:.4}, {hi:.4}] (pixel 0 to 255, normalised)"),
        ],
        vec!["Tolerance".into(), args.tolerance.to_string()],
    ];
    for (s, n) in State::ALL.iter().zip(counts) {
        rows.push(vec![format!("{} synapses", s.name()), share(n)]);
    }
    format!(
        "<h2>Headline</h2>\n<section id=\"headline\">\n{}</section>\n",
        html_table(&["", ""], &rows)
    )
}

/// Counts of every state at each tolerance, as CSV rows (and the page's table).
fn tolerance_rows(model: &Mdpn) -> Vec<Vec<String>> {
    synapse_states::tolerance_sweep(model)
        .into_iter()
        .map(|(t, n)| {
            let mut row = vec![t.to_string()];
            row.extend(n.iter().map(|v| v.to_string()));
            row
        })
        .collect()
}

/// Writes rows as CSV under `header`.
fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut s = header.join(",") + "\n";
    for row in rows {
        s += &row.join(",");
        s += "\n";
    }
    write_atomic(path, s.as_bytes())
}

/// The rule, the counts (overall, against the tolerance, per dendrite), the state mosaic, the
/// `w` and `q` maps and example response curves; `synapses.csv` and the counts as CSV.
fn states_section(
    model: &Mdpn,
    synapses: &[Synapse],
    tolerance: f32,
    out: &Path,
    pictures: &mut Pictures,
) -> anyhow::Result<String> {
    let cfg = &model.config;
    let (lo, hi) = input_range(cfg);
    let mut s = format!(
        "<h2>Synapse states</h2>\n<p>Over the input range [{lo:.4}, {hi:.4}], with ΔY = Y(hi) − Y(lo): a synapse is <b>direct</b> if ΔY ≥ {tolerance}, <b>inverse</b> if ΔY ≤ −{tolerance}, else constant: <b>constant-1</b> if (Y(lo) + Y(hi))/2 ≥ 1/2, <b>constant-0</b> otherwise.</p>\n"
    );
    let rows: Vec<Vec<String>> = synapses
        .iter()
        .map(|y| {
            vec![
                y.channel.to_string(),
                y.dendrite.to_string(),
                y.row.to_string(),
                y.col.to_string(),
                y.w.to_string(),
                y.q.to_string(),
                y.threshold.to_string(),
                y.state.name().to_string(),
                y.y_low.to_string(),
                y.y_high.to_string(),
            ]
        })
        .collect();
    write_csv(
        &out.join("synapses.csv"),
        &[
            "channel",
            "dendrite",
            "row",
            "column",
            "w",
            "q",
            "threshold",
            "state",
            "y_low",
            "y_high",
        ],
        &rows,
    )?;
    let names: Vec<&str> = State::ALL.iter().map(|s| s.name()).collect();
    let mut header = vec!["tolerance"];
    header.extend(&names);
    let sweep = tolerance_rows(model);
    write_csv(&out.join("state_counts.csv"), &header, &sweep)?;
    s += &format!(
        "<h3>Counts against the tolerance</h3>\n<section id=\"state-counts\">\n{}</section>\n",
        html_table(&header, &sweep)
    );
    s += &pictures.add(
        &Lines {
            title: "Synapses in each state against the tolerance".into(),
            x_desc: "tolerance on |ΔY| (log scale)".into(),
            y_desc: "synapses".into(),
            series: State::ALL
                .iter()
                .enumerate()
                .map(|(i, st)| {
                    let pts = sweep
                        .iter()
                        .zip(TOLERANCES)
                        .map(|(row, t)| (t as f64, row[i + 1].parse::<f64>().unwrap_or(0.0)))
                        .collect();
                    (st.name().to_string(), pts)
                })
                .collect(),
            log_x: true,
            size: (800, 420),
        },
        "states-vs-tolerance",
        "State counts against the tolerance",
    );
    let counts = synapse_states::counts(synapses);
    s += &pictures.add(
        &Bars {
            title: format!("Synapses in each state (tolerance {tolerance})"),
            x_desc: "state".into(),
            y_desc: "synapses".into(),
            labels: names.iter().map(|n| n.to_string()).collect(),
            series: vec![(
                "synapses".into(),
                counts.iter().map(|&n| n as f64).collect(),
            )],
            colours: None,
            size: (600, 400),
        },
        "state-counts",
        "State counts",
    );
    // Per dendrite (each channel's map), in channel · M + dendrite order.
    let per = cfg.synapses();
    let maps: Vec<[usize; 4]> = synapses.chunks(per).map(synapse_states::counts).collect();
    let map_name = |map: usize| {
        if cfg.channels == 1 {
            format!("d{map}")
        } else {
            format!("d{}c{}", map % cfg.dendrites, map / cfg.dendrites)
        }
    };
    let per_rows: Vec<Vec<String>> = maps
        .iter()
        .enumerate()
        .map(|(m, n)| {
            let mut row = vec![
                (m / cfg.dendrites).to_string(),
                (m % cfg.dendrites).to_string(),
            ];
            row.extend(n.iter().map(|v| v.to_string()));
            row
        })
        .collect();
    let mut header = vec!["channel", "dendrite"];
    header.extend(&names);
    write_csv(&out.join("dendrite_states.csv"), &header, &per_rows)?;
    s += &pictures.add(
        &Bars {
            title: "Synapse states per dendrite".into(),
            x_desc: "dendrite".into(),
            y_desc: "synapses".into(),
            labels: (0..maps.len()).map(map_name).collect(),
            series: State::ALL
                .iter()
                .enumerate()
                .map(|(i, st)| {
                    (
                        st.name().to_string(),
                        maps.iter().map(|n| n[i] as f64).collect(),
                    )
                })
                .collect(),
            colours: Some(STATE_COLOURS.to_vec()),
            size: (1000, 420),
        },
        "states-per-dendrite",
        "States per dendrite",
    );
    s += &format!(
        "<details><summary>Counts per dendrite</summary>\n<section id=\"dendrite-states\">\n{}</section></details>\n",
        html_table(&header, &per_rows)
    );
    let tiles = |colour: &dyn Fn(&Synapse) -> RGBColor| -> Vec<Tile> {
        synapses
            .chunks(per)
            .enumerate()
            .map(|(m, syn)| Tile {
                caption: map_name(m),
                width: cfg.window,
                height: cfg.window,
                cells: syn.iter().map(colour).collect(),
                boxes: Vec::new(),
            })
            .collect()
    };
    let mosaic = |title: &str, tiles: Vec<Tile>, legend: Vec<(String, RGBColor)>| Mosaic {
        title: title.into(),
        tiles,
        columns: 10,
        cell: 12,
        legend,
    };
    let legend = State::ALL
        .iter()
        .map(|&st| (st.name().to_string(), state_colour(st)))
        .collect();
    s += &pictures.add(
        &mosaic(
            "Synapse states of every dendrite",
            tiles(&|y| state_colour(y.state)),
            legend,
        ),
        "state-mosaic",
        "State of every synapse, one 5×5 grid per dendrite",
    );
    let limit = |pick: fn(&Synapse) -> f32| {
        synapses
            .iter()
            .map(|y| pick(y).abs())
            .filter(|v| v.is_finite())
            .fold(0f32, f32::max)
    };
    for (name, pick) in [
        ("w", (|y: &Synapse| y.w) as fn(&Synapse) -> f32),
        ("q", |y| y.q),
    ] {
        let l = limit(pick);
        s += &pictures.add(
            &mosaic(
                &format!("{name} of every synapse (blue −{l:.2}, white 0, red +{l:.2})"),
                tiles(&|y| diverging(pick(y), l)),
                Vec::new(),
            ),
            &format!("{name}-map"),
            &format!("{name} of every synapse"),
        );
    }
    // Response curves: the two synapses of each state that move most (direct, inverse) or
    // least (constant).
    let mut examples = Vec::new();
    for st in State::ALL {
        let mut of: Vec<&Synapse> = synapses.iter().filter(|y| y.state == st).collect();
        of.sort_by(|a, b| {
            let (da, db) = ((a.y_high - a.y_low).abs(), (b.y_high - b.y_low).abs());
            if st.is_constant() {
                da.total_cmp(&db)
            } else {
                db.total_cmp(&da)
            }
        });
        examples.extend(of.into_iter().take(2));
    }
    let xs: Vec<f32> = (0..=60).map(|i| lo + (hi - lo) * i as f32 / 60.0).collect();
    let y_of = |y: &Synapse, x: f32| synapse(cfg.synapse, x, y.w, y.q, cfg.k).0;
    for (stem, label, f) in [
        (
            "response-y",
            "Y(x)",
            (|y: f32, _c: f32| y) as fn(f32, f32) -> f32,
        ),
        ("response-log", "ln(Y(x) + c)", |y, c| (y + c).ln()),
    ] {
        s += &pictures.add(
            &Lines {
                title: format!("{label} of example synapses"),
                x_desc: "normalised input x".into(),
                y_desc: label.into(),
                series: examples
                    .iter()
                    .map(|y: &&Synapse| {
                        (
                            format!(
                                "{} {} ({},{})",
                                y.state.name(),
                                map_name(y.channel * cfg.dendrites + y.dendrite),
                                y.row,
                                y.col
                            ),
                            xs.iter()
                                .map(|&x| (x as f64, f(y_of(y, x), cfg.c) as f64))
                                .collect(),
                        )
                    })
                    .collect(),
                log_x: false,
                size: (700, 420),
            },
            stem,
            &format!("{label} of example synapses of each state"),
        );
    }
    Ok(s)
}

/// One gray tile per channel of `values` `(C, side, side)`, coloured by `colour`.
fn plane_tiles(
    values: &[f32],
    channels: usize,
    side: usize,
    caption: &str,
    colour: &dyn Fn(f32) -> RGBColor,
) -> Vec<Tile> {
    (0..channels)
        .map(|ch| Tile {
            caption: if channels == 1 {
                caption.to_string()
            } else {
                format!("{caption} c{ch}")
            },
            width: side,
            height: side,
            cells: values[ch * side * side..][..side * side]
                .iter()
                .map(|&v| colour(v))
                .collect(),
            boxes: Vec::new(),
        })
        .collect()
}

/// The numbers of the images followed: `images.csv` (class probabilities) and `saliency.csv`
/// (one row per image and pixel).
struct ImageCsv {
    probabilities: String,
    saliency: String,
}

/// One image through the neuron: input and saliency, every dendrite's map before and after
/// pooling, the winning windows, the strongest soma units and the class probabilities.
fn image_section(
    file: &ModelFile,
    index: usize,
    name: &str,
    pixels: &[u8],
    label: Option<u32>,
    csv: &mut ImageCsv,
    pictures: &mut Pictures,
) -> anyhow::Result<String> {
    let model = &file.model;
    let cfg = &model.config;
    let x: Vec<f32> = pixels.iter().map(|&v| cfg.normalise(v)).collect();
    let fwd = model.forward(Images::F32(&x), KernelChoice::Plain, None)?;
    let mut probs = fwd.logits.clone();
    axon::activate(cfg, &mut probs);
    let predicted = axon::argmax(&fwd.logits);
    let class = |c: usize| file.class_names.get(c).cloned().unwrap_or(c.to_string());
    let _ = write!(
        csv.probabilities,
        "{},{},{predicted}",
        name.replace(',', " "),
        label.map_or(String::new(), |l| l.to_string())
    );
    for p in &probs {
        let _ = write!(csv.probabilities, ",{p}");
    }
    csv.probabilities += "\n";
    let stem = format!("image-{index}");
    let truth = match (label, cfg.task) {
        (Some(l), Task::MultiClass) => format!(", true class {}", class(l as usize)),
        _ => String::new(),
    };
    let mut s = format!(
        "<h2>One image through the neuron: {}</h2>\n<p>Predicted class <b>{}</b> ({:.1}%){}.</p>\n",
        esc(name),
        esc(&class(predicted)),
        100.0 * probs[predicted],
        esc(&truth)
    );
    let (h, side, p, m) = (
        cfg.image_size,
        cfg.dendrite_side(),
        cfg.pooled_side(),
        cfg.dendrites,
    );
    let saliency = model.input_gradient(Images::F32(&x), &[predicted])?;
    for (at, v) in saliency.iter().enumerate() {
        let (ch, row, col) = (at / (h * h), at / h % h, at % h);
        let _ = writeln!(csv.saliency, "{index},{ch},{row},{col},{v}");
    }
    let sal_limit = range(&saliency).0.abs().max(range(&saliency).1.abs());
    let mut tiles = plane_tiles(&x, cfg.channels, h, "input", &|v| gray(v, input_range(cfg)));
    tiles.extend(plane_tiles(&saliency, cfg.channels, h, "saliency", &|v| {
        diverging(v, sal_limit)
    }));
    s += &pictures.add(
        &Mosaic {
            title: format!("{name}: input and saliency of {}", class(predicted)),
            tiles,
            columns: 2 * cfg.channels,
            cell: 8,
            legend: Vec::new(),
        },
        &format!("{stem}-input"),
        "Input, and the gradient of the predicted class's score with respect to each pixel (red raises it, blue lowers it)",
    );
    // Dendrite maps (C, S, S, M) and membrane maps (C, P, P, M), one tile per dendrite.
    let dendrites = plain::dendrites(cfg, &model.params.w, &model.params.q, &x);
    let map_tiles = |values: &[f32], side: usize, what: &str| -> Vec<Tile> {
        (0..cfg.channels * m)
            .map(|map| {
                let (ch, d) = (map / m, map % m);
                let v: Vec<f32> = (0..side * side)
                    .map(|cell| values[(ch * side * side + cell) * m + d])
                    .collect();
                let r = range(&v);
                Tile {
                    caption: format!(
                        "d{d}{} {what}",
                        if cfg.channels > 1 {
                            format!("c{ch}")
                        } else {
                            String::new()
                        }
                    ),
                    width: side,
                    height: side,
                    cells: v.iter().map(|&v| heat(v, r)).collect(),
                    boxes: Vec::new(),
                }
            })
            .collect()
    };
    s += &pictures.add(
        &Mosaic {
            title: format!(
                "{name}: every dendrite's map ({side}×{side}, each scaled to its own range)"
            ),
            tiles: map_tiles(&dendrites, side, ""),
            columns: 10,
            cell: 4,
            legend: Vec::new(),
        },
        &format!("{stem}-dendrites"),
        "Dendrite maps before pooling",
    );
    s += &pictures.add(
        &Mosaic {
            title: format!(
                "{name}: membrane maps after {}×{} pooling",
                cfg.pool, cfg.pool
            ),
            tiles: map_tiles(&fwd.membrane, p, ""),
            columns: 10,
            cell: 12,
            legend: Vec::new(),
        },
        &format!("{stem}-membrane"),
        "Membrane maps after pooling",
    );
    let windows: Vec<Tile> = (0..cfg.channels * m)
        .map(|map| {
            let (ch, d) = (map / m, map % m);
            let mut tile = plane_tiles(&x[ch * h * h..][..h * h], 1, h, &format!("d{d}"), &|v| {
                gray(v, input_range(cfg))
            })
            .remove(0);
            tile.boxes = (0..p * p)
                .map(|cell| {
                    let w = fwd.winners[(ch * p * p + cell) * m + d] as usize;
                    [w % side, w / side, cfg.window, cfg.window]
                })
                .collect();
            tile
        })
        .collect();
    s += &pictures.add(
        &Mosaic {
            title: format!("{name}: the winning window of each pool cell, per dendrite"),
            tiles: windows,
            columns: 10,
            cell: 4,
            legend: Vec::new(),
        },
        &format!("{stem}-windows"),
        "Winning windows",
    );
    let mut units: Vec<usize> = (0..cfg.hidden).collect();
    units.sort_by(|&a, &b| fwd.soma[b].total_cmp(&fwd.soma[a]));
    units.truncate(12);
    s += &pictures.add(
        &Bars {
            title: format!("{name}: the strongest soma units"),
            x_desc: "soma unit".into(),
            y_desc: "output (after ReLU)".into(),
            labels: units.iter().map(|u| u.to_string()).collect(),
            series: vec![(
                "output".into(),
                units.iter().map(|&u| fwd.soma[u] as f64).collect(),
            )],
            colours: None,
            size: (600, 360),
        },
        &format!("{stem}-soma"),
        "Strongest soma units",
    );
    s += &pictures.add(
        &Bars {
            title: format!("{name}: class probabilities"),
            x_desc: "class".into(),
            y_desc: "probability".into(),
            labels: (0..cfg.classes).map(class).collect(),
            series: vec![(
                "probability".into(),
                probs.iter().map(|&v| v as f64).collect(),
            )],
            colours: None,
            size: (900, 380),
        },
        &format!("{stem}-probabilities"),
        "Class probabilities",
    );
    Ok(s)
}

/// The test accuracy lost when each dendrite's membrane output is replaced by its mean,
/// ranked; `importance.csv`.
fn importance_section(
    model: &Mdpn,
    test: &mdpn::Dataset,
    out: &Path,
    pictures: &mut Pictures,
) -> anyhow::Result<String> {
    let cfg: &Config = &model.config;
    let indices: Vec<usize> = (0..test.len()).collect();
    let importance = importance(model, test, &indices)?;
    let order = importance.ranking();
    let Importance { accuracy, without } = importance;
    let rows: Vec<Vec<String>> = order
        .iter()
        .enumerate()
        .map(|(rank, &map)| {
            vec![
                (rank + 1).to_string(),
                (map / cfg.dendrites).to_string(),
                (map % cfg.dendrites).to_string(),
                format!("{:.2}", 100.0 * without[map]),
                format!("{:.2}", 100.0 * (accuracy - without[map])),
            ]
        })
        .collect();
    let header = [
        "rank",
        "channel",
        "dendrite",
        "accuracy_without",
        "accuracy_lost",
    ];
    write_csv(&out.join("importance.csv"), &header, &rows)?;
    let mut s = format!(
        "<h2>Dendrite importance</h2>\n<p>Test accuracy {:.2}% on {} test images; each dendrite in turn replaced by its mean output over them (percentage points lost, most important first).</p>\n",
        100.0 * accuracy,
        test.len()
    );
    s += &pictures.add(
        &Bars {
            title: "Test accuracy lost without each dendrite".into(),
            x_desc: "dendrite (most important first)".into(),
            y_desc: "accuracy lost (points)".into(),
            labels: order.iter().map(|&m| format!("d{m}")).collect(),
            series: vec![(
                "lost".into(),
                order
                    .iter()
                    .map(|&m| 100.0 * (accuracy - without[m]))
                    .collect(),
            )],
            colours: None,
            size: (1000, 420),
        },
        "importance",
        "Dendrite importance",
    );
    s += &format!(
        "<section id=\"importance\">\n{}</section>\n",
        html_table(&header, &rows)
    );
    Ok(s)
}
