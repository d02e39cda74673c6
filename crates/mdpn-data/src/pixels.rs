//! Stored pixel values of any numeric type as the 8-bit pixels the model takes: one rule for
//! every format (IDX, `.npy`), so the same image reads the same whatever file it comes in.

use mdpn::{Error, Result};

/// The `n` values `value(0..n)` as 8-bit pixels, rounded to the nearest integer.
///
/// Integers must lie in 0..=255 and are taken as they are. Floats are scaled by 255 when every
/// value of the array lies in 0..=1 (the usual range of float images), and otherwise must lie in
/// 0..=255 and are taken as they are. The rule looks at the whole array, not one value, so a
/// float array whose largest value is at most 1 is always read as 0..=1.
pub fn to_u8(n: usize, float: bool, value: impl Fn(usize) -> f64) -> Result<Vec<u8>> {
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..n {
        let v = value(i);
        if v.is_nan() {
            return Err(Error::Format(format!(
                "pixel {i} is NaN; expected {}",
                expected(float)
            )));
        }
        min = min.min(v);
        max = max.max(v);
    }
    if n > 0 && !(min >= 0.0 && max <= 255.0) {
        return Err(Error::Format(format!(
            "pixel values range from {min} to {max}; expected {}",
            expected(float)
        )));
    }
    let scale = if float && max <= 1.0 { 255.0 } else { 1.0 };
    Ok((0..n).map(|i| (value(i) * scale).round() as u8).collect())
}

/// The ranges [`to_u8`] accepts, in words.
fn expected(float: bool) -> &'static str {
    if float {
        "floats in 0..=1 (scaled by 255) or in 0..=255"
    } else {
        "integers in 0..=255"
    }
}
