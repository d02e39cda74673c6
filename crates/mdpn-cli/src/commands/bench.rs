//! `mdpn bench`: training and inference images/s and peak memory of the default model.

use std::time::Instant;

use mdpn::kernels::lut::lookups;
use mdpn::splits::rng;
use mdpn::training::Trainer;
use mdpn::{Config, Images, KernelChoice as KernelArg, Mdpn};
use mdpn_data::datasets::{self, DataArgs};
use rand::Rng;
use serde_json::json;

use super::ModelArgs;
use mdpn_runs::timing::median;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Number of dendrites M.
    #[arg(long, default_value_t = 50)]
    pub dendrites: usize,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Training batches per timed round.
    #[arg(long, default_value_t = 40)]
    pub train_batches: usize,
    /// Inference batches per timed round.
    #[arg(long, default_value_t = 100)]
    pub infer_batches: usize,
    /// Single images timed one after the other for the latency (0: none).
    #[arg(long, default_value_t = 200)]
    pub latency_images: usize,
    /// Timed rounds; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Dendrite kernel to time.
    #[arg(long, value_enum, default_value_t = KernelArg::Fast)]
    pub kernel: KernelArg,
    /// Folder searched first for Fashion-MNIST (random images are used if it is not found).
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Time inference of this model file (f32 or int8) instead of a fresh default model;
    /// training is then not timed.
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Images the benchmark cycles through at most: Fashion-MNIST's training set, or as many random
/// images.
const MAX_IMAGES: usize = 60_000;

/// Look-ups the machine could retire per second on `threads` cores: one 8-lane table look-up
/// (a load and an add) per cycle per core, at the clock `/proc/cpuinfo` gives (Linux).
fn lookup_limit_per_s(threads: usize) -> Option<f64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("cpu MHz"))?;
    let mhz: f64 = line.split(':').nth(1)?.trim().parse().ok()?;
    Some(threads as f64 * mhz * 1e6)
}

/// Multiply-adds a core retires per cycle: two FMA units of 16 lanes (AVX-512) or 8 (AVX2);
/// 8 elsewhere (NEON's two units of 4).
fn macs_per_cycle() -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return 32.0;
        }
        if std::is_x86_feature_detected!("fma") {
            return 16.0;
        }
    }
    8.0
}

/// The fewest cycles of one core an image can take, forward (inference) and trained, given
/// its table look-ups: one look-up per cycle (a load of the pixel's entry and a vector add);
/// the soma's and axon's products at [`macs_per_cycle`] (one forward; training adds the two
/// backward products); and, trained, each synapse of each winning window visited once in the
/// backward pass (two loads: the pixel and its slopes), one per cycle. Tables and Adam, per
/// batch, are left out.
fn cycles_limit(config: &Config, lookups: f64) -> (f64, f64) {
    let products = (config.features() * config.hidden + config.hidden * config.classes) as f64;
    let visits = (config.features() * config.synapses()) as f64;
    let infer = lookups + products / macs_per_cycle();
    (infer, lookups + visits + 3.0 * products / macs_per_cycle())
}

/// Median seconds of one call of `f`, over `n` calls after one to warm up; `None` for none.
fn latency(n: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Option<f64>> {
    if n == 0 {
        return Ok(None);
    }
    f()?;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64());
    }
    Ok(Some(median(times)))
}

/// Peak resident memory of this process in MiB, where the system tells it (Linux).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rounds > 0 && args.train_batches > 0 && args.infer_batches > 0,
        "counts must be positive"
    );
    anyhow::ensure!(
        (1..=MAX_IMAGES).contains(&args.batch_size),
        "--batch-size {} is out of range: a batch holds 1 to {MAX_IMAGES} images (the Fashion-MNIST training set the benchmark draws from)",
        args.batch_size
    );
    let file = args
        .model
        .as_deref()
        .map(|p| ModelArgs::path(p).load_any())
        .transpose()?;
    let config = match &file {
        Some(f) => f.config().clone(),
        None => Config {
            dendrites: args.dendrites,
            ..Config::default()
        },
    };
    if config.channels != 1 || config.image_size != 28 {
        anyhow::bail!(
            "bench runs on 28x28 gray Fashion-MNIST images; the model takes other images"
        );
    }
    let per_round = args
        .batch_size
        .saturating_mul(args.train_batches.max(args.infer_batches))
        .min(MAX_IMAGES);
    let data_args = DataArgs {
        dataset: "fashion-mnist".into(),
        data_dir: args.data_dir.clone(),
        ..Default::default()
    };
    let (images, input) = match datasets::load(&data_args, false) {
        Ok(d) => (
            d.train.images[..(per_round * config.image_len()).min(d.train.images.len())].to_vec(),
            "fashion-mnist",
        ),
        Err(_) => {
            let mut r = rng(0, 0);
            (
                (0..per_round * config.image_len())
                    .map(|_| r.random::<u8>())
                    .collect(),
                "random",
            )
        }
    };
    let image_len = config.image_len();
    let available = images.len() / image_len;
    anyhow::ensure!(
        available >= args.batch_size,
        "--batch-size {} is larger than the {available} {input} images found",
        args.batch_size
    );
    let batch = |i: usize| {
        let start = (i * args.batch_size) % (available - args.batch_size + 1);
        &images[start * image_len..(start + args.batch_size) * image_len]
    };
    let labels: Vec<u32> = (0..args.batch_size as u32).map(|i| i % 10).collect();
    let mut trainer = Trainer::new(Mdpn::new(config.clone(), 0)?, 1e-3, args.batch_size, 0)?;
    trainer.kernel = args.kernel;

    let mut train_rates = Vec::new();
    let mut infer_rates = Vec::new();
    let model_tables = file.as_ref().map(|f| f.tables());
    for round in 0..=args.rounds {
        if let (Some(file), Some(tables)) = (&file, &model_tables) {
            let start = Instant::now();
            mdpn::parallel::busy(|| -> anyhow::Result<()> {
                for b in 0..args.infer_batches {
                    file.logits(batch(b), tables)?;
                }
                Ok(())
            })?;
            if round > 0 {
                infer_rates.push(
                    (args.infer_batches * args.batch_size) as f64 / start.elapsed().as_secs_f64(),
                );
            }
            continue;
        }
        let start = Instant::now();
        // As `Trainer` trains an epoch: the other threads kept polling between batches' steps.
        mdpn::parallel::busy(|| -> anyhow::Result<()> {
            for b in 0..args.train_batches {
                let step =
                    trainer
                        .model
                        .gradients(Images::U8(batch(b)), &labels, trainer.kernel)?;
                trainer.adam.step(&mut trainer.model.params, &step.grads);
            }
            Ok(())
        })?;
        let train = (args.train_batches * args.batch_size) as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        let tables = trainer.model.tables();
        mdpn::parallel::busy(|| -> anyhow::Result<()> {
            for b in 0..args.infer_batches {
                trainer
                    .model
                    .forward(Images::U8(batch(b)), trainer.kernel, Some(&tables))?;
            }
            Ok(())
        })?;
        let infer = (args.infer_batches * args.batch_size) as f64 / start.elapsed().as_secs_f64();
        // Round 0 warms caches and the thread pool.
        if round > 0 {
            train_rates.push(train);
            infer_rates.push(infer);
        }
    }
    let train = (!train_rates.is_empty()).then(|| median(train_rates));
    let infer = median(infer_rates);
    // One image at a time on the warm model, as `predict` and Python run it.
    let one = &batch(0)[..image_len];
    let n = args.latency_images;
    let latency_ms = match &file {
        Some(file) => latency(n, || Ok(file.probabilities(one).map(drop)?))?,
        None => latency(n, || {
            let model = &trainer.model;
            Ok(model
                .probabilities(Images::U8(one), trainer.kernel)
                .map(drop)?)
        })?,
    }
    .map(|s| s * 1e3);
    // The roofline of the dendrites: look-ups made per image and per second, against what
    // the cores could retire.
    let table_kernel = matches!(args.kernel, KernelArg::Fast) && config.paper_functions();
    let lookups_per_image = table_kernel.then(|| {
        let batches = (0..args.infer_batches).map(|b| lookups(&config, batch(b)));
        batches.sum::<u64>() as f64 / (args.infer_batches * args.batch_size) as f64
    });
    let lookups_per_s = lookups_per_image.map(|l| l * infer);
    let rss = peak_rss_mb();
    let threads = crate::threads();
    let limit = lookups_per_s.and(lookup_limit_per_s(threads));
    let fraction = lookups_per_s.zip(limit).map(|(l, max)| l / max);
    // Images per second at those limits, on every thread's core; for f32 models (an int8
    // model's products are integers).
    let f32_model = !matches!(file, Some(mdpn::any_model::AnyModel::Int8(_)));
    let (infer_limit, train_limit) = match (lookups_per_image, limit) {
        (Some(lookups), Some(cycles_per_s)) if f32_model => {
            let (infer, train) = cycles_limit(&config, lookups);
            (Some(cycles_per_s / infer), Some(cycles_per_s / train))
        }
        _ => (None, None),
    };
    let train_limit = train_limit.filter(|_| train.is_some());
    if args.json {
        println!(
            "{}",
            json!({
                "train_images_per_s": train,
                "infer_images_per_s": infer,
                "peak_rss_mb": rss,
                "predict_latency_ms": latency_ms,
                "lookups_per_image": lookups_per_image,
                "lookups_per_s": lookups_per_s,
                "lookup_limit_per_s": limit,
                "fraction_of_limit": fraction,
                "infer_limit_images_per_s": infer_limit,
                "infer_fraction_of_limit": infer_limit.map(|l| infer / l),
                "train_limit_images_per_s": train_limit,
                "train_fraction_of_limit": train.zip(train_limit).map(|(t, l)| t / l),
                "threads": threads,
                "dendrites": config.dendrites,
                "model": args.model.as_ref().map(|p| p.display().to_string()),
                "batch_size": args.batch_size,
                "image_size": 28,
                "input": input,
                "kernel": args.kernel,
                "rounds": args.rounds,
            })
        );
    } else {
        let model = args
            .model
            .as_ref()
            .map_or("a fresh model".into(), |p| p.display().to_string());
        println!(
            "MDPN M={} ({model}) batch {} 28x28 ({input} images), {:?} kernel, {threads} threads, median of {} rounds",
            config.dendrites, args.batch_size, args.kernel, args.rounds
        );
        let of_limit = |rate: f64, limit: Option<f64>| {
            limit.map_or(String::new(), |l| {
                format!(", {:.0}% of the limit {l:.0}", rate / l * 100.0)
            })
        };
        if let Some(train) = train {
            let of = of_limit(train, train_limit);
            println!("training   {train:>9.0} images/s{of}");
        }
        println!(
            "inference  {infer:>9.0} images/s{}",
            of_limit(infer, infer_limit)
        );
        if let Some(ms) = latency_ms {
            println!("one image  {ms:>9.3} ms (predict on the warm model)");
        }
        if let Some(l) = lookups_per_s {
            let of = fraction.map_or(String::new(), |f| {
                format!(", {:.0}% of one per cycle per core", f * 100.0)
            });
            println!("look-ups   {:>9.0} M/s{of}", l / 1e6);
        }
        match rss {
            Some(mb) => println!("peak RSS   {mb:>9.1} MB"),
            None => println!("peak RSS   unknown on this system"),
        }
    }
    Ok(())
}
