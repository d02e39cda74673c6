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

/// Runs `f`, whose parallel steps follow one another with short serial work between them (a
/// training loop), while the pool's other threads poll for work instead of falling asleep:
/// rayon puts an idle thread to sleep after some 30 µs, and waking it for the next step cost
/// 5 to 10% of training's time on a two-core virtual machine. They poll until `f` returns,
/// or until they have found no work for [`POLL_IDLE`]. Only from a thread of the pool (the
/// program and Python run their work on one): called from elsewhere, `f` just runs.
pub fn busy<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "parallel")]
    if let Some(caller) = rayon::current_thread_index() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        use std::time::Instant;
        /// Ends the polling when `f` returns or panics.
        struct Done(Arc<AtomicBool>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let done = Done(Arc::new(AtomicBool::new(false)));
        let flag = done.0.clone();
        rayon::spawn_broadcast(move |ctx| {
            // The caller's own copy returns at once: run while the caller waits inside `f`
            // for a stolen piece of work, it would keep the caller from ever returning to it.
            if ctx.index() == caller {
                return;
            }
            let mut last_work = Instant::now();
            while !flag.load(Ordering::Acquire) && last_work.elapsed() < POLL_IDLE {
                match rayon::yield_now() {
                    Some(rayon::Yield::Executed) => last_work = Instant::now(),
                    // Gives the core to any other runnable thread (another process), as rayon
                    // does before it sleeps.
                    _ => std::thread::yield_now(),
                }
            }
        });
        return f();
    }
    f()
}

/// How long [`busy`]'s threads poll without finding work before they leave it: longer than the
/// serial work between a training step's parallel parts, and a bound on the wait of a thread
/// that picked the polling up while it waited for other work (two callers at once).
pub const POLL_IDLE: std::time::Duration = std::time::Duration::from_millis(2);
