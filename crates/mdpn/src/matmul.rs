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

/// Rows of the output computed by one task, at least: enough work to be worth a thread.
const ROWS_PER_TASK: usize = 16;
/// Multiply-adds of one task, at least, so that thin products (a convolution's few filters
/// over many image patches) do not drown in task overhead.
const WORK_PER_TASK: usize = 1 << 16;

/// `c = a · b + beta · c`, with `c` row-major `a.rows × b.cols`; rows of `c` are split across threads.
pub fn matmul(a: MatRef, b: MatRef, c: &mut [f32], beta: f32) {
    assert_eq!(a.cols, b.rows, "inner dimensions");
    assert_eq!(c.len(), a.rows * b.cols, "output size");
    assert!(
        a.in_bounds() && b.in_bounds(),
        "matrix view outside its data"
    );
    let n = b.cols;
    if n == 0 || a.rows == 0 {
        return;
    }
    let rows_per_task = ROWS_PER_TASK.max(WORK_PER_TASK / (n * a.cols).max(1));
    parallel::for_each_chunk(c, rows_per_task * n, |task, rows| {
        let first = task * rows_per_task;
        let m = rows.len() / n;
        // SAFETY: the strides and sizes describe memory inside `a.data`, `b.data` and `rows`:
        // row `first + m - 1` of `a` and every row of `b` are in bounds, as asserted
        // above.
        unsafe {
            matrixmultiply::sgemm(
                m,
                a.cols,
                n,
                1.0,
                a.data.as_ptr().add(first * a.row_stride),
                a.row_stride as isize,
                a.col_stride as isize,
                b.data.as_ptr(),
                b.row_stride as isize,
                b.col_stride as isize,
                beta,
                rows.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    });
}
