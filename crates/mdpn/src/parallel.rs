//! Optional data parallelism: rayon with the `parallel` feature, the calling thread without it.
//!
//! Work is always split into the same pieces whatever the thread count, so results do not
//! depend on how many threads ran them.

#[cfg(feature = "parallel")]
use rayon::prelude::*;

/// Calls `f(i, piece)` for each `chunk`-sized piece of `data`.
pub fn for_each_chunk<T: Send>(data: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    #[cfg(feature = "parallel")]
    data.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, piece)| f(i, piece));
    #[cfg(not(feature = "parallel"))]
    data.chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, piece)| f(i, piece));
}

/// Calls `f(i)` for each `i` in `0..count`.
pub fn for_each_index(count: usize, f: impl Fn(usize) + Sync + Send) {
    #[cfg(feature = "parallel")]
    (0..count).into_par_iter().for_each(f);
    #[cfg(not(feature = "parallel"))]
    (0..count).for_each(f);
}

/// Like [`for_each_chunk`] over two slices cut into the same number of pieces.
pub fn for_each_chunk2<A: Send, B: Send>(
    a: &mut [A],
    chunk_a: usize,
    b: &mut [B],
    chunk_b: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    #[cfg(feature = "parallel")]
    a.par_chunks_mut(chunk_a)
        .zip(b.par_chunks_mut(chunk_b))
        .enumerate()
        .for_each(|(i, (pa, pb))| f(i, pa, pb));
    #[cfg(not(feature = "parallel"))]
    a.chunks_mut(chunk_a)
        .zip(b.chunks_mut(chunk_b))
        .enumerate()
        .for_each(|(i, (pa, pb))| f(i, pa, pb));
}

/// Like [`for_each_chunk`] over three slices of the same length, cut alike.
pub fn for_each_chunk3<A: Send, B: Send, C: Send>(
    a: &mut [A],
    b: &mut [B],
    c: &mut [C],
    chunk: usize,
    f: impl Fn(usize, &mut [A], &mut [B], &mut [C]) + Sync,
) {
    #[cfg(feature = "parallel")]
    a.par_chunks_mut(chunk)
        .zip(b.par_chunks_mut(chunk))
        .zip(c.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(i, ((pa, pb), pc))| f(i, pa, pb, pc));
    #[cfg(not(feature = "parallel"))]
    a.chunks_mut(chunk)
        .zip(b.chunks_mut(chunk))
        .zip(c.chunks_mut(chunk))
        .enumerate()
        .for_each(|(i, ((pa, pb), pc))| f(i, pa, pb, pc));
}
