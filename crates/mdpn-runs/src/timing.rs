//! Timing: the clock of a run's epochs (the last two columns of `metrics.csv`), and inference
//! speed measured as `mdpn bench` measures it, medians of rounds taken in turn.

use std::cell::Cell;
use std::time::{Duration, Instant};

use mdpn::training::BatchReport;
use mdpn::{Images, Mdpn};

/// Median of some measurements.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Times of one epoch.
#[derive(Clone, Copy, Debug)]
pub struct EpochTime {
    /// Training, validation and test.
    pub seconds: f64,
    /// Training only.
    pub train_seconds: f64,
}

/// Times the epochs of a run from `fit`'s hooks: an epoch starts when the clock is made or
/// [`EpochClock::restart`]ed, its training ends with its last batch.
pub struct EpochClock {
    start: Cell<Instant>,
    trained: Cell<Duration>,
}

impl EpochClock {
    pub fn starting_now() -> EpochClock {
        EpochClock {
            start: Cell::new(Instant::now()),
            trained: Cell::new(Duration::ZERO),
        }
    }

    /// Time since the epoch started.
    pub fn elapsed(&self) -> Duration {
        self.start.get().elapsed()
    }

    /// From the batch hook: notes the end of the epoch's training part.
    pub fn batch(&self, report: &BatchReport) {
        if report.batch == report.batches {
            self.trained.set(self.elapsed());
        }
    }

    /// The times of the epoch that just ended.
    pub fn epoch(&self) -> EpochTime {
        EpochTime {
            seconds: self.elapsed().as_secs_f64(),
            train_seconds: self.trained.get().as_secs_f64(),
        }
    }

    /// Starts the next epoch (once the last one is recorded).
    pub fn restart(&self) {
        self.start.set(Instant::now());
    }
}

/// Inference images/s of each of `models` on images of `data`, timed as `mdpn bench` times
/// inference: `rounds` rounds (after one to warm up) of 100 batches of 64 images through the
/// 8-bit kernel, the tables built in each round; the median round. The models take turns in
/// every round, so that a busy machine slows them alike.
pub fn inference_images_per_s(
    models: &[&Mdpn],
    data: &mdpn::Dataset,
    rounds: usize,
) -> anyhow::Result<Vec<f64>> {
    const BATCH: usize = 64;
    const BATCHES: usize = 100;
    anyhow::ensure!(data.len() >= BATCH, "timing needs at least {BATCH} images");
    let len = data.image_len();
    let batch = |i: usize| {
        let start = (i * BATCH) % (data.len() - BATCH + 1);
        &data.images[start * len..(start + BATCH) * len]
    };
    let mut rates = vec![Vec::new(); models.len()];
    for round in 0..=rounds {
        for (model, rates) in models.iter().zip(&mut rates) {
            let start = Instant::now();
            let tables = model.tables();
            for b in 0..BATCHES {
                model.forward(
                    Images::U8(batch(b)),
                    mdpn::KernelChoice::Fast,
                    Some(&tables),
                )?;
            }
            if round > 0 {
                rates.push((BATCHES * BATCH) as f64 / start.elapsed().as_secs_f64());
            }
        }
    }
    Ok(rates.into_iter().map(median).collect())
}
