//! Images from NumPy arrays: `uint8` arrays are raw pixels (the 8-bit table kernel), float
//! arrays are already normalised values (the plain kernel). Anything else is a `ValueError`.

use std::borrow::Cow;

use mdpn::{Config, Dataset, Images};
use numpy::{
    Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::py_err;

/// A shape as Python prints it: `(5, 28, 28)`.
pub fn tuple(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The shapes a batch of images for `config` may have.
pub fn expected_shapes(config: &Config) -> String {
    let (c, s) = (config.channels, config.image_size);
    if c == 1 {
        format!("(N, {s}, {s}) or (N, 1, {s}, {s})")
    } else {
        format!("(N, {c}, {s}, {s})")
    }
}

/// Number of images in an array of `shape`, if it is a batch of `config`'s images.
fn batch_len(shape: &[usize], config: &Config) -> PyResult<usize> {
    let (c, s) = (config.channels, config.image_size);
    let fits = match *shape {
        [_, h, w] => c == 1 && (h, w) == (s, s),
        [_, ch, h, w] => (ch, h, w) == (c, s, s),
        _ => false,
    };
    if !fits {
        return Err(PyValueError::new_err(format!(
            "x has shape {}; this model takes {} images of {} channel(s) of {s}x{s} pixels: {}",
            tuple(shape),
            if c == 1 { "gray" } else { "colour" },
            c,
            expected_shapes(config)
        )));
    }
    Ok(shape[0])
}

/// The values of `a` in (N, C, H, W) order: its own memory when it is C-contiguous, else a copy.
fn values<'a, T: Element + Copy>(a: &'a PyReadonlyArrayDyn<'_, T>) -> Cow<'a, [T]> {
    match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().iter().copied().collect()),
    }
}

/// Calls `f` with the images of `x` and their number, without the GIL (the array's memory is
/// read in place when it is C-contiguous, copied otherwise). `x` must be a batch of `config`'s
/// images: `uint8` pixels, or `float32`/`float64` normalised values.
pub fn with_images<R: Send>(
    x: &Bound<'_, PyAny>,
    config: &Config,
    f: impl FnOnce(Images, usize) -> R + Send,
) -> PyResult<R> {
    let py = x.py();
    let borrowed = |e: numpy::BorrowError| PyValueError::new_err(format!("x cannot be read: {e}"));
    if let Ok(a) = x.cast::<PyArrayDyn<u8>>() {
        let n = batch_len(a.shape(), config)?;
        let a = a.try_readonly().map_err(borrowed)?;
        let pixels = values(&a);
        return Ok(py.detach(|| f(Images::U8(&pixels), n)));
    }
    if let Ok(a) = x.cast::<PyArrayDyn<f32>>() {
        let n = batch_len(a.shape(), config)?;
        let a = a.try_readonly().map_err(borrowed)?;
        let normalised = values(&a);
        return Ok(py.detach(|| f(Images::F32(&normalised), n)));
    }
    if let Ok(a) = x.cast::<PyArrayDyn<f64>>() {
        let n = batch_len(a.shape(), config)?;
        let a = a.try_readonly().map_err(borrowed)?;
        let values: Vec<f32> = a.as_array().iter().map(|&v| v as f32).collect();
        return Ok(py.detach(|| f(Images::F32(&values), n)));
    }
    Err(PyValueError::new_err(match x.cast::<PyUntypedArray>() {
        Ok(a) => format!(
            "x has dtype {}; give uint8 pixels (the 8-bit kernel) or float32/float64 values already normalised (the plain kernel)",
            a.dtype()
        ),
        Err(_) => format!(
            "x must be a NumPy array of images {}, got {}",
            expected_shapes(config),
            x.get_type().name()?
        ),
    }))
}

/// A labelled data set from NumPy arrays: `uint8` images `(N, H, W)` or `(N, C, H, W)` (square)
/// and class indices `(N,)`.
pub fn labelled(
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    class_names: &[String],
    what: &str,
) -> PyResult<Dataset> {
    let x = x.cast::<PyArrayDyn<u8>>().map_err(|_| {
        PyValueError::new_err(format!(
            "{what} images must be a uint8 NumPy array of raw pixels (training runs on 8-bit images; convert with x.astype(numpy.uint8) if your values are 0..255)"
        ))
    })?;
    let (channels, size) = match *x.shape() {
        [_, h, w] if h == w => (1, h),
        [_, c, h, w] if h == w => (c, h),
        ref shape => {
            return Err(PyValueError::new_err(format!(
                "{what} images have shape {}; expected square images (N, H, W) or (N, C, H, W)",
                tuple(shape)
            )))
        }
    };
    let y = y.cast::<PyArrayDyn<i64>>().map_err(|_| {
        PyValueError::new_err(format!("{what} labels must be an int64 NumPy array"))
    })?;
    if y.shape() != [x.shape()[0]] {
        return Err(PyValueError::new_err(format!(
            "{what} labels have shape {} but there are {} images",
            tuple(y.shape()),
            x.shape()[0]
        )));
    }
    let labels = y
        .try_readonly()
        .map_err(|e| PyValueError::new_err(e.to_string()))?
        .as_array()
        .iter()
        .map(|&l| {
            u32::try_from(l)
                .map_err(|_| PyValueError::new_err(format!("{what} label {l} is negative")))
        })
        .collect::<PyResult<Vec<u32>>>()?;
    let images = x
        .try_readonly()
        .map_err(|e| PyValueError::new_err(e.to_string()))?
        .as_array()
        .iter()
        .copied()
        .collect();
    Dataset::new(images, labels, channels, size, class_names.to_vec()).map_err(py_err)
}
