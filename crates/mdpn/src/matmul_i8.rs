//! The integer matrix product of the int8 model ([`crate::quantized`]): 8-bit activations
//! times 8-bit weights, summed exactly in `i32`.

/// Images that share one pass over a weight row.
#[cfg(target_arch = "x86_64")]
const BLOCK: usize = 4;

/// Int8 weights `(O, K)` (a `Linear`'s row-major layout) made ready for the product once, not per
/// batch: widened to i16, the operands of the CPU's 16-bit multiply-add (`pmaddwd`), with the
/// sum of each row (what the activations' zero point takes off).
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedWeights {
    wide: Vec<i16>,
    inputs: usize,
    pub row_sums: Vec<i32>,
}

impl PreparedWeights {
    pub fn new(weight: &[i8], inputs: usize) -> PreparedWeights {
        let inputs = inputs.max(1);
        assert_eq!(weight.len() % inputs, 0, "weight size");
        PreparedWeights {
            wide: weight.iter().map(|&v| v as i16).collect(),
            inputs,
            row_sums: weight
                .chunks_exact(inputs)
                .map(|r| r.iter().map(|&v| v as i32).sum())
                .collect(),
        }
    }
}

/// `c[i·O + o] = Σ_k a[i·K + k] · b[o·K + k]`: `a` is `(B, K)` uint8 activations, `b` the
/// `(O, K)` int8 weights, `c` is `(B, O)`. Exact: a product is at most 255·128 in size, so `K`
/// up to 65,000 cannot overflow `i32`. One thread: the caller splits the batch.
pub fn matmul_u8_i8(a: &[u8], b: &PreparedWeights, c: &mut [i32]) {
    let inputs = b.inputs;
    let outputs = b.row_sums.len();
    assert_eq!(a.len() / inputs * outputs, c.len(), "output size");
    if outputs == 0 {
        return;
    }
    let a: Vec<i16> = a.iter().map(|&v| v as i16).collect();
    dot_rows(&a, &b.wide, inputs, c);
}

/// The products of every activation row with every weight row.
fn dot_rows(a: &[i16], b: &[i16], inputs: usize, out: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { dot_rows_avx2(a, b, inputs, out) };
    }
    dot_rows_plain(a, b, inputs, out)
}

/// `pmaddwd` on 16 values at a time (16 products summed in pairs into 8 `i32` lanes), for
/// [`BLOCK`] images per pass over a weight row; the tail of each row in plain code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_rows_avx2(a: &[i16], b: &[i16], inputs: usize, out: &mut [i32]) {
    use std::arch::x86_64::*;
    const STEP: usize = 16;
    let outputs = b.len() / inputs;
    let images = a.len() / inputs;
    let whole = inputs - inputs % STEP;
    for i0 in (0..images).step_by(BLOCK) {
        let block = BLOCK.min(images - i0);
        for (o, w) in b.chunks_exact(inputs).enumerate() {
            let mut acc = [_mm256_setzero_si256(); BLOCK];
            for k in (0..whole).step_by(STEP) {
                // SAFETY: k + 16 ≤ whole ≤ inputs, inside every row (unaligned loads).
                let vw = _mm256_loadu_si256(w.as_ptr().add(k) as *const __m256i);
                for (i, acc) in acc.iter_mut().enumerate().take(block) {
                    let x = a.as_ptr().add((i0 + i) * inputs + k) as *const __m256i;
                    *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(_mm256_loadu_si256(x), vw));
                }
            }
            for (i, acc) in acc.iter().enumerate().take(block) {
                let mut lanes = [0i32; 8];
                _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, *acc);
                let x = &a[(i0 + i) * inputs..][..inputs];
                out[(i0 + i) * outputs + o] =
                    lanes.iter().sum::<i32>() + dot(&x[whole..], &w[whole..]);
            }
        }
    }
}

/// One multiply-add at a time: CPUs without AVX2, and the tails.
fn dot_rows_plain(a: &[i16], b: &[i16], inputs: usize, out: &mut [i32]) {
    let outputs = b.len() / inputs;
    for (x, out) in a.chunks_exact(inputs).zip(out.chunks_exact_mut(outputs)) {
        for (o, w) in out.iter_mut().zip(b.chunks_exact(inputs)) {
            *o = dot(x, w);
        }
    }
}

fn dot(x: &[i16], w: &[i16]) -> i32 {
    x.iter().zip(w).map(|(&p, &q)| p as i32 * q as i32).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The same product, one multiply-add at a time: the reference the fast path is tested against.
    pub fn reference_u8_i8(a: &[u8], b: &[i8], inputs: usize, c: &mut [i32]) {
        let outputs = b.len() / inputs.max(1);
        for (i, out) in c.chunks_exact_mut(outputs.max(1)).enumerate() {
            for (o, v) in out.iter_mut().enumerate() {
                *v = (0..inputs)
                    .map(|k| a[i * inputs + k] as i32 * b[o * inputs + k] as i32)
                    .sum();
            }
        }
    }

    #[test]
    fn fast_product_equals_the_reference() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        // Sizes with and without a tail, and the extremes of both types.
        for (batch, inputs, outputs) in [(3, 1800, 128), (37, 128, 10), (5, 7, 3), (1, 16, 1)] {
            let mut a: Vec<u8> = (0..batch * inputs).map(|_| rng.random()).collect();
            let mut b: Vec<i8> = (0..outputs * inputs).map(|_| rng.random()).collect();
            a[0] = 255;
            b[0] = -128;
            let mut fast = vec![0; batch * outputs];
            let mut slow = vec![1; batch * outputs];
            let prepared = PreparedWeights::new(&b, inputs);
            matmul_u8_i8(&a, &prepared, &mut fast);
            reference_u8_i8(&a, &b, inputs, &mut slow);
            assert_eq!(fast, slow, "{batch}x{inputs}x{outputs}");
            let sums: Vec<i32> = b
                .chunks(inputs)
                .map(|r| r.iter().map(|&v| v as i32).sum())
                .collect();
            assert_eq!(prepared.row_sums, sums);
            // The path of CPUs without AVX2.
            let wide = |v: &[i8]| v.iter().map(|&x| x as i16).collect::<Vec<_>>();
            let a16: Vec<i16> = a.iter().map(|&x| x as i16).collect();
            dot_rows_plain(&a16, &wide(&b), inputs, &mut fast);
            assert_eq!(fast, slow, "{batch}x{inputs}x{outputs}");
        }
    }
}
