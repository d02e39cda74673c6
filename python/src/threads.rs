//! `threads=`: the rayon pool a call runs on. Results do not depend on it (the library splits
//! work the same way whatever the thread count); only the speed does.

use std::sync::OnceLock;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::PyResult;

/// Runs `f` on a pool of `threads` threads, or on rayon's global pool (all cores) for `None`.
pub fn run<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> PyResult<R> {
    match threads {
        None => Ok(f()),
        Some(0) => Err(PyValueError::new_err("threads must be at least 1")),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n} threads: {e}")))?;
            Ok(pool.install(f))
        }
    }
}

/// [`run`] for long work made of many parallel steps (training): `f` runs on one of the pool's
/// threads, rayon's number of them for `None`, so that each step starts there instead of
/// handing its work to a sleeping worker from outside the pool (two thread switches a step).
pub fn run_on_pool<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> PyResult<R> {
    static DEFAULT: OnceLock<rayon::ThreadPool> = OnceLock::new();
    match (threads, DEFAULT.get()) {
        (Some(_), _) => run(threads, f),
        (None, Some(pool)) => Ok(pool.install(f)),
        (None, None) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .build()
                .map_err(|e| PyRuntimeError::new_err(format!("cannot start threads: {e}")))?;
            Ok(DEFAULT.get_or_init(|| pool).install(f))
        }
    }
}
