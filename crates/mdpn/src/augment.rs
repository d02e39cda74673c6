//! Augmentation of 8-bit training images, in place, so that the 8-bit kernel still runs: random
//! shifts (padding with 0 and cropping back), mirror images, and random erasing. The draws come
//! from one random stream per epoch, taken image by image in batch order, so a run is the same
//! bit for bit whatever the thread count, and a resumed run draws what the first one would have.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What is done to each training image. The default does nothing (the paper's recipe).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Augment {
    /// Largest shift, in pixels, in each direction: the image is padded with 0 by this much on
    /// every side and a window of its own size is cut at random.
    pub shift: usize,
    /// Mirror half of the images left to right. Only for sets whose classes survive it
    /// (clothes, objects), never for digits or letters.
    pub flip: bool,
    /// Probability of erasing one random rectangle (2% to 33% of the image, aspect 0.3 to 3.3,
    /// Zhong et al. 2020) with 0.
    pub erase: f32,
}

impl Augment {
    /// Whether it changes anything.
    pub fn is_active(&self) -> bool {
        self.shift > 0 || self.flip || self.erase > 0.0
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.erase) {
            return Err(Error::Config(format!(
                "erasing probability must be in [0, 1], got {}",
                self.erase
            )));
        }
        if self.shift > 64 {
            return Err(Error::Config(format!(
                "a shift of {} pixels is more than the 64 allowed",
                self.shift
            )));
        }
        Ok(())
    }

    /// Augments every image of a batch `(B, C, size, size)` in place, drawing from `rng`.
    /// `scratch` is reused between calls.
    pub fn apply(
        &self,
        images: &mut [u8],
        channels: usize,
        size: usize,
        rng: &mut ChaCha8Rng,
        scratch: &mut Vec<u8>,
    ) {
        if !self.is_active() {
            return;
        }
        let plane = size * size;
        for image in images.chunks_exact_mut(channels * plane) {
            if self.shift > 0 {
                let s = self.shift as i64;
                let dy = rng.random_range(-s..=s);
                let dx = rng.random_range(-s..=s);
                shift(image, channels, size, dy, dx, scratch);
            }
            if self.flip && rng.random_bool(0.5) {
                for row in image.chunks_exact_mut(size) {
                    row.reverse();
                }
            }
            if self.erase > 0.0 && rng.random::<f32>() < self.erase {
                erase(image, channels, size, rng);
            }
        }
    }
}

/// Moves the content of every plane down by `dy` and right by `dx` pixels, filling with 0.
fn shift(image: &mut [u8], channels: usize, size: usize, dy: i64, dx: i64, scratch: &mut Vec<u8>) {
    if dy == 0 && dx == 0 {
        return;
    }
    scratch.clear();
    scratch.extend_from_slice(image);
    image.fill(0);
    let n = size as i64;
    let (x0, x1) = (dx.max(0), (n + dx).min(n));
    if x0 >= x1 {
        return;
    }
    let width = (x1 - x0) as usize;
    for ch in 0..channels {
        let base = ch * size * size;
        for y in dy.max(0)..(n + dy).min(n) {
            let from = base + ((y - dy) * n + x0 - dx) as usize;
            let to = base + (y * n + x0) as usize;
            image[to..to + width].copy_from_slice(&scratch[from..from + width]);
        }
    }
}

/// Erases one random rectangle of every plane with 0 (Zhong et al.'s random erasing: area 2% to
/// 33% of the image, aspect ratio 0.3 to 3.3, up to ten tries to fit it).
fn erase(image: &mut [u8], channels: usize, size: usize, rng: &mut ChaCha8Rng) {
    let area = (size * size) as f32;
    for _ in 0..10 {
        let target = area * rng.random_range(0.02f32..0.33);
        let aspect = rng.random_range(0.3f32.ln()..3.3f32.ln()).exp();
        let h = (target * aspect).sqrt().round() as usize;
        let w = (target / aspect).sqrt().round() as usize;
        if h == 0 || w == 0 || h >= size || w >= size {
            continue;
        }
        let top = rng.random_range(0..=size - h);
        let left = rng.random_range(0..=size - w);
        for ch in 0..channels {
            for y in top..top + h {
                let row = ch * size * size + y * size;
                image[row + left..row + left + w].fill(0);
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::splits::rng;

    fn ramp(channels: usize, size: usize) -> Vec<u8> {
        (0..channels * size * size)
            .map(|i| (i % 251) as u8 + 1)
            .collect()
    }

    #[test]
    fn shifts_move_content_and_fill_with_zero() {
        let size = 4;
        let img = ramp(2, size);
        let mut out = img.clone();
        shift(&mut out, 2, size, 1, -1, &mut Vec::new());
        for ch in 0..2 {
            for y in 0..size {
                for x in 0..size {
                    let got = out[ch * 16 + y * 4 + x];
                    let (sy, sx) = (y as i64 - 1, x as i64 + 1);
                    let want = if (0..4).contains(&sy) && (0..4).contains(&sx) {
                        img[ch * 16 + (sy * 4 + sx) as usize]
                    } else {
                        0
                    };
                    assert_eq!(got, want, "channel {ch} ({y}, {x})");
                }
            }
        }
        // A shift past the image leaves nothing.
        let mut gone = img.clone();
        shift(&mut gone, 2, size, 0, 4, &mut Vec::new());
        assert!(gone.iter().all(|&v| v == 0));
    }

    #[test]
    fn the_same_stream_gives_the_same_images() {
        let aug = Augment {
            shift: 2,
            flip: true,
            erase: 0.5,
        };
        let batch: Vec<u8> = (0..8).flat_map(|_| ramp(1, 28)).collect();
        let run = |seed| {
            let mut b = batch.clone();
            aug.apply(&mut b, 1, 28, &mut rng(seed, 7), &mut Vec::new());
            b
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        assert_ne!(run(1), batch);
        // Nothing but moves, mirrors and zeros: every value is 0 or one of the image's.
        assert!(run(1).iter().all(|&v| v == 0 || batch.contains(&v)));
    }

    #[test]
    fn flips_mirror_rows_and_default_does_nothing() {
        let aug = Augment {
            flip: true,
            ..Augment::default()
        };
        let img = ramp(1, 3);
        let mut flipped_once = false;
        for seed in 0..8 {
            let mut b = img.clone();
            aug.apply(&mut b, 1, 3, &mut rng(seed, 0), &mut Vec::new());
            if b != img {
                assert_eq!(b, [3, 2, 1, 6, 5, 4, 9, 8, 7]);
                flipped_once = true;
            }
        }
        assert!(flipped_once);
        let mut b = img.clone();
        Augment::default().apply(&mut b, 1, 3, &mut rng(0, 0), &mut Vec::new());
        assert_eq!(b, img);
    }
}
