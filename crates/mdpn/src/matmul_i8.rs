//! The integer matrix product of the int8 model ([`crate::quantized`]): 8-bit activations
//! times 8-bit weights, summed exactly in `i32`.

use crate::parallel;

/// Images per task: enough work to be worth a thread.
const ROWS_PER_TASK: usize = 16;

/// `c[i·O + o] = Σ_k a[i·K + k] · b[o·K + k]`: `a` is `(B, K)` uint8 activations, `b` is
/// `(O, K)` int8 weights (a `Linear`'s row-major layout), `c` is `(B, O)`. Exact: a product is
/// at most 255·128 in size, so `K` up to 65,000 cannot overflow `i32`.
pub fn matmul_u8_i8(a: &[u8], b: &[i8], inputs: usize, c: &mut [i32]) {
    let outputs = b.len() / inputs.max(1);
    assert_eq!(b.len(), outputs * inputs, "weight size");
    assert_eq!(a.len() / inputs.max(1) * outputs, c.len(), "output size");
    if outputs == 0 || inputs == 0 {
        c.fill(0);
        return;
    }
    parallel::for_each_chunk(c, ROWS_PER_TASK * outputs, |task, rows| {
        let first = task * ROWS_PER_TASK;
        for (i, out) in rows.chunks_exact_mut(outputs).enumerate() {
            let row = &a[(first + i) * inputs..][..inputs];
            dot_rows(row, b, out);
        }
    });
}

/// The dot product of one activation row with every weight row.
fn dot_rows(a: &[u8], b: &[i8], out: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { dot_rows_avx2(a, b, out) };
    }
    dot_rows_impl(a, b, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_rows_avx2(a: &[u8], b: &[i8], out: &mut [i32]) {
    dot_rows_impl(a, b, out)
}

/// Written so that the compiler vectorises it: 16-bit products (they fit) widened to `i32`
/// lanes of a fixed-width accumulator, summed at the end.
#[inline(always)]
fn dot_rows_impl(a: &[u8], b: &[i8], out: &mut [i32]) {
    const LANES: usize = 16;
    let k = a.len();
    let whole = k - k % LANES;
    for (o, w) in out.iter_mut().zip(b.chunks_exact(k)) {
        let mut acc = [0i32; LANES];
        for (xa, xw) in a[..whole]
            .chunks_exact(LANES)
            .zip(w[..whole].chunks_exact(LANES))
        {
            for l in 0..LANES {
                acc[l] += (xa[l] as i16 * xw[l] as i16) as i32;
            }
        }
        let tail: i32 = a[whole..]
            .iter()
            .zip(&w[whole..])
            .map(|(&x, &y)| x as i32 * y as i32)
            .sum();
        *o = acc.iter().sum::<i32>() + tail;
    }
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
            matmul_u8_i8(&a, &b, inputs, &mut fast);
            reference_u8_i8(&a, &b, inputs, &mut slow);
            assert_eq!(fast, slow, "{batch}x{inputs}x{outputs}");
        }
    }
}
