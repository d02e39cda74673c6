//! Matrix products for the soma and axon layers, on `matrixmultiply`'s sgemm.

use crate::parallel;

/// A read-only matrix view: `rows × cols`, element (i, j) at `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        debug_assert_eq!(data.len(), rows * cols);
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Whether every element the view describes lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }

    /// The transpose, without copying.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// Rows (or columns) of the output computed by one task, at least: enough work to be worth a
/// thread.
const ROWS_PER_TASK: usize = 16;
const COLS_PER_TASK: usize = 64;
/// Multiply-adds of one task, at least, so that thin products (a convolution's few filters
/// over many image patches) do not drown in task overhead.
const WORK_PER_TASK: usize = 1 << 16;

/// `c = a · b + beta · c`, with `c` row-major `a.rows × b.cols`. The tasks split `c` by rows or
/// by columns, whichever repacks less: each task packs its share of one operand and the whole
/// of the other, so the smaller one is the one repeated (the soma's products of 64 images: a
/// split by rows packed its 921 KB of weights once per task). Every element is the same sum in
/// the same order however `c` is split, so the split changes no bit.
pub fn matmul(a: MatRef, b: MatRef, c: &mut [f32], beta: f32) {
    assert_eq!(a.cols, b.rows, "inner dimensions");
    assert_eq!(c.len(), a.rows * b.cols, "output size");
    assert!(
        a.in_bounds() && b.in_bounds(),
        "matrix view outside its data"
    );
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if n == 0 || m == 0 {
        return;
    }
    // SAFETY (both calls): the views are in bounds, as asserted above; each task passes rows
    // `first..first + rows` of `a` and columns `first..first + cols` of `b` inside them, and
    // its block of `c` inside `c`.
    let gemm = |a_at: usize, b_at: usize, rows: usize, cols: usize, c: *mut f32| unsafe {
        matrixmultiply::sgemm(
            rows,
            k,
            cols,
            1.0,
            a.data.as_ptr().add(a_at),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr().add(b_at),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c,
            n as isize,
            1,
        );
    };
    if m * k <= k * n {
        let per_task = COLS_PER_TASK.max(WORK_PER_TASK / (m * k).max(1));
        let c = SharedBlocks(c.as_mut_ptr());
        parallel::for_each_index(n.div_ceil(per_task), |task| {
            let first = task * per_task;
            let cols = per_task.min(n - first);
            // SAFETY: tasks write disjoint column blocks of `c`, which outlives them.
            gemm(0, first * b.col_stride, m, cols, unsafe { c.at(first) });
        });
    } else {
        let per_task = ROWS_PER_TASK.max(WORK_PER_TASK / (n * k).max(1));
        parallel::for_each_chunk(c, per_task * n, |task, block| {
            let first = task * per_task;
            gemm(
                first * a.row_stride,
                0,
                block.len() / n,
                n,
                block.as_mut_ptr(),
            );
        });
    }
}

/// The output of [`matmul`], written by tasks in disjoint blocks of columns.
struct SharedBlocks(*mut f32);

// SAFETY: the tasks of one `matmul` write disjoint elements, and `matmul` returns after them.
unsafe impl Sync for SharedBlocks {}

impl SharedBlocks {
    /// The element at `offset`.
    ///
    /// # Safety
    /// `offset` is inside the output.
    unsafe fn at(&self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both splits, and transposed views, against one unsplit product: the same bits.
    #[test]
    fn every_split_gives_the_bits_of_one_product() {
        let value = |i: usize| ((i * 7919 % 1013) as f32 / 500.0 - 1.0) * 0.37;
        for (m, k, n) in [(64, 1800, 128), (64, 128, 1800), (300, 75, 12), (3, 5, 7)] {
            let a: Vec<f32> = (0..m * k).map(value).collect();
            let b: Vec<f32> = (0..k * n).map(|i| value(i + 11)).collect();
            let start: Vec<f32> = (0..m * n).map(|i| value(i + 5)).collect();
            let mut whole = start.clone();
            // SAFETY: row-major m×k, k×n and m×n, the sizes of the three vectors.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    1.0,
                    whole.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
            let product = |a: &[f32], b: &[f32], (m, k, n), c: &mut [f32], beta| {
                matmul(MatRef::new(a, m, k), MatRef::new(b, k, n), c, beta)
            };
            let mut split = start.clone();
            product(&a, &b, (m, k, n), &mut split, 1.0);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&split), bits(&whole), "{m}×{k}×{n}");
            // The same product as the transpose of bᵀ·aᵀ, split the other way.
            let transpose = |v: &[f32], rows: usize, cols: usize| -> Vec<f32> {
                (0..rows * cols)
                    .map(|i| v[(i % rows) * cols + i / rows])
                    .collect()
            };
            let mut transposed = vec![0.0; n * m];
            let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
            product(&bt, &at, (n, k, m), &mut transposed, 0.0);
            let mut fresh = vec![0.0; m * n];
            product(&a, &b, (m, k, n), &mut fresh, 0.0);
            let back = transpose(&transposed, n, m);
            assert_eq!(bits(&back), bits(&fresh), "{m}×{k}×{n} transposed");
        }
    }
}
