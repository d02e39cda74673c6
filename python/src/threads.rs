//! `threads=`: the rayon pool a call runs on. Results do not depend on it (the library splits
//! work the same way whatever the thread count); only the speed does.

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
