//! `mdpn.Model`: a trained model (an `mdpn` model file, f32 or int8, or the authors' PyTorch
//! state dict) with NumPy in and out: probabilities, classes, and the layer outputs for research.

use std::path::PathBuf;

use mdpn::any_model::AnyModel;
use mdpn::kernels::plain;
use mdpn::layers::axon;
use mdpn::micro_export::{self, SourceFile};
use mdpn::model::TENSOR_NAMES;
use mdpn::model_file::{self, ModelFile};
use mdpn::quantized_file::QuantizedFile;
use mdpn::state_dict::StateDictOptions;
use mdpn::{Images, KernelChoice, Params, Task};
use mdpn_runs::files::{program, write_atomic};
use mdpn_runs::model_args::ModelArgs;
use numpy::{IntoPyArray, PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use rayon::prelude::*;

use crate::images::{tuple, with_images};
use crate::{file_err, inside, py_err, threads};

/// Images per forward pass, as `mdpn eval` runs them.
const CHUNK: usize = 256;

/// An MDPN model. `x` is a NumPy array of images, `(N, H, W)` (gray) or `(N, C, H, W)`:
/// `uint8` arrays are raw pixels, normalised with the model's `mean` and `std` and run by the
/// 8-bit table kernel; `float32`/`float64` arrays are taken as already normalised
/// (`(pixel/255 - mean)/std`) and run by the plain kernel. A wrong shape, dtype or size raises
/// `ValueError`. `threads` (default: all cores) changes the speed, never the results. An int8
/// model (`mdpn quantize`) runs as `mdpn eval` runs it; it has no f32 `state_dict`.
#[pyclass(module = "mdpn", name = "Model", frozen)]
pub struct Model {
    pub file: AnyModel,
}

impl From<ModelFile> for Model {
    fn from(file: ModelFile) -> Model {
        Model {
            file: AnyModel::F32(file),
        }
    }
}

/// Loads a model file written by `mdpn train`, `mdpn quantize` (int8) or `Model.save`, or a
/// PyTorch state dict of the authors' model saved as safetensors (`image_size`, `mean` and `std` fill in what a state
/// dict does not say; given for a model file, `mean` and `std` override it), as `mdpn eval
/// --model` does.
#[pyfunction]
#[pyo3(signature = (path, *, image_size=None, mean=None, std=None))]
pub fn load(
    path: PathBuf,
    image_size: Option<usize>,
    mean: Option<f32>,
    std: Option<f32>,
) -> PyResult<Model> {
    if !path.is_file() {
        return Err(PyFileNotFoundError::new_err(format!(
            "no model file at {}",
            path.display()
        )));
    }
    let args = ModelArgs {
        model: path,
        image_size,
        mean,
        std,
    };
    Ok(Model {
        file: args.load_any().map_err(file_err)?,
    })
}

/// The images of `images` (`n` of `len` values each) in chunks of [`CHUNK`].
fn chunks(images: Images, len: usize) -> Vec<Images> {
    match images {
        Images::U8(x) => x.chunks(CHUNK * len).map(Images::U8).collect(),
        Images::F32(x) => x.chunks(CHUNK * len).map(Images::F32).collect(),
    }
}

impl Model {
    fn cfg(&self) -> &mdpn::Config {
        self.file.config()
    }

    /// The f32 model file, or a `ValueError` saying that an int8 model has no `what`.
    pub fn f32(&self, what: &str) -> PyResult<&ModelFile> {
        match &self.file {
            AnyModel::F32(file) => Ok(file),
            AnyModel::Int8(_) => Err(PyValueError::new_err(format!(
                "an int8 model has no {what}: use the f32 model it was quantized from"
            ))),
        }
    }

    /// The int8 model file, or a `ValueError` saying that `what` takes one.
    fn int8(&self, what: &str) -> PyResult<&QuantizedFile> {
        match &self.file {
            AnyModel::Int8(file) => Ok(file),
            AnyModel::F32(_) => Err(PyValueError::new_err(format!(
                "{what} takes an int8 model, which computes in integers only: \
                 make one with mdpn.quantize(model, x_calib) first"
            ))),
        }
    }

    /// `f` of every chunk of the images of `x`, joined, and the number of images.
    fn per_chunk(
        &self,
        x: &Bound<'_, PyAny>,
        threads: Option<usize>,
        f: impl Fn(Images) -> mdpn::Result<Vec<f32>> + Sync,
    ) -> PyResult<(Vec<f32>, usize)> {
        let len = self.cfg().image_len();
        let (out, n) = with_images(x, self.cfg(), |images, n| {
            let out = threads::run(threads, || -> mdpn::Result<Vec<f32>> {
                let mut out = Vec::new();
                for chunk in chunks(images, len) {
                    out.extend(f(chunk)?);
                }
                Ok(out)
            });
            (out, n)
        })?;
        Ok((out?.map_err(py_err)?, n))
    }

    /// Logits `(N, classes)`, computed as `mdpn eval` does.
    fn logit_values(
        &self,
        x: &Bound<'_, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<(Vec<f32>, usize)> {
        let predict = self.file.classifier().predictor(KernelChoice::Fast);
        self.per_chunk(x, threads, predict)
    }

    fn probability_values(
        &self,
        x: &Bound<'_, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<(Vec<f32>, usize)> {
        let (mut p, n) = self.logit_values(x, threads)?;
        axon::activate(self.cfg(), &mut p);
        Ok((p, n))
    }
}

/// `values` as a NumPy array of `shape`.
fn array<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    shape: Vec<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    values.into_pyarray(py).reshape(shape)
}

#[pymethods]
impl Model {
    /// Class probabilities `(N, classes)`, float32: softmax, or one sigmoid per label for a
    /// multi-label model. On `uint8` input, bit for bit what `mdpn eval` and `mdpn predict`
    /// compute.
    #[pyo3(signature = (x, *, threads=None))]
    fn predict_proba<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let (p, n) = self.probability_values(x, threads)?;
        array(x.py(), p, vec![n, self.cfg().classes])
    }

    /// The predicted class index of every image `(N,)` (int64); for a multi-label model, a
    /// 0/1 decision per label `(N, classes)` (probability above 0.5).
    #[pyo3(signature = (x, *, threads=None))]
    fn predict<'py>(&self, x: &Bound<'py, PyAny>, threads: Option<usize>) -> PyResult<Py<PyAny>> {
        let classes = self.cfg().classes;
        let (p, n) = self.probability_values(x, threads)?;
        let py = x.py();
        Ok(match self.cfg().task {
            Task::MultiClass => {
                let best: Vec<i64> = p
                    .chunks_exact(classes)
                    .map(|r| axon::argmax(r) as i64)
                    .collect();
                best.into_pyarray(py).into_any().unbind()
            }
            Task::MultiLabel => {
                let yes: Vec<u8> = p.iter().map(|&v| u8::from(v > 0.5)).collect();
                array(py, yes, vec![n, classes])?.into_any().unbind()
            }
        })
    }

    /// The axon layer's output before softmax, `(N, classes)`, float32.
    #[pyo3(signature = (x, *, threads=None))]
    fn logits<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let (v, n) = self.logit_values(x, threads)?;
        array(x.py(), v, vec![n, self.cfg().classes])
    }

    /// The membrane layer's output (after the max pool), flattened as the soma layer takes it:
    /// `(N, features)`, (channel, row, column, dendrite) order, dendrite fastest.
    #[pyo3(signature = (x, *, threads=None))]
    fn membrane<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let tables = self.file.tables();
        let (v, n) = self.per_chunk(x, threads, |images| {
            let tables = matches!(images, Images::U8(_)).then_some(&tables);
            self.file.membrane(images, KernelChoice::Fast, tables)
        })?;
        array(x.py(), v, vec![n, self.cfg().features()])
    }

    /// The dendrite layer's output `D = Σ_rows ln Π_cols (Y + c)` at every window position,
    /// `(N, C, H-window+1, W-window+1, M)`, float32. Always computed by the plain (reference)
    /// kernel, from normalised values (the 8-bit kernel never forms these maps).
    #[pyo3(signature = (x, *, threads=None))]
    fn dendrites<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let cfg = self.cfg();
        let (w, q) = self.file.synapses();
        let side = cfg.dendrite_side();
        let per_image = cfg.channels * side * side * cfg.dendrites;
        let len = cfg.image_len();
        let (out, n) = with_images(x, cfg, |images, n| {
            let total = n.checked_mul(per_image).ok_or_else(|| {
                PyValueError::new_err(format!("{n} images give too many dendrite values"))
            })?;
            threads::run(threads, || {
                let mut out = vec![0.0f32; total];
                out.par_chunks_mut(per_image.max(1))
                    .enumerate()
                    .for_each(|(i, maps)| {
                        let image: Vec<f32> = match images {
                            Images::U8(x) => x[i * len..][..len]
                                .iter()
                                .map(|&v| cfg.normalise(v))
                                .collect(),
                            Images::F32(x) => x[i * len..][..len].to_vec(),
                        };
                        maps.copy_from_slice(&plain::dendrites(cfg, w, q, &image));
                    });
                out
            })
            .map(|out| (out, n))
        })??;
        array(
            x.py(),
            out,
            vec![n, cfg.channels, side, side, cfg.dendrites],
        )
    }

    /// The state of every synapse over the input range at `tolerance` on `|Y(hi) - Y(lo)|`
    /// (direct, inverse, constant-1 or constant-0), as `mdpn inspect` writes `synapses.csv`:
    /// a dict of NumPy arrays, one per column (channel, dendrite, row, column, w, q,
    /// threshold, state, y_low, y_high), in the order of the model's tensors;
    /// `pandas.DataFrame(model.synapse_states())` makes it a table.
    #[pyo3(signature = (tolerance=0.05))]
    fn synapse_states<'py>(&self, py: Python<'py>, tolerance: f32) -> PyResult<Bound<'py, PyDict>> {
        inside::synapse_states(py, &self.f32("synapse states")?.model, tolerance)
    }

    /// How much each dendrite matters on the labelled images `x` (uint8), `y` (class
    /// indices): the accuracy when its membrane output is replaced by its mean over the
    /// images, as `mdpn inspect --dataset` writes `importance.csv`. A dict of NumPy arrays,
    /// most important first (rank, channel, dendrite, accuracy_lost, accuracy_without, as
    /// fractions), and `accuracy`, the model's own.
    fn dendrite_importance<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let file = self.f32("dendrite importance")?;
        inside::dendrite_importance(x.py(), &file.model, &file.class_names, x, y)
    }

    /// The saliency map of each image: the gradient of a class's score (its logit) with
    /// respect to the normalised pixels, `(N, C, H, W)` float32, as `mdpn inspect` draws it
    /// (and writes `saliency.csv`). `classes` (one per image) defaults to the predicted ones.
    #[pyo3(signature = (x, classes=None))]
    fn saliency<'py>(
        &self,
        x: &Bound<'py, PyAny>,
        classes: Option<Vec<usize>>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let model = &self.f32("a saliency map")?.model;
        let (grad, n) = inside::saliency(x, model, classes)?;
        let cfg = self.cfg();
        array(
            x.py(),
            grad,
            vec![n, cfg.channels, cfg.image_size, cfg.image_size],
        )
    }

    /// Writes the model (f32 or int8) as a standard ONNX graph, as `mdpn export --format onnx`:
    /// uint8 input `image` `(N, C, H, W)`, output `probabilities` `(N, classes)`.
    fn export_onnx(&self, path: PathBuf) -> PyResult<()> {
        let bytes = match &self.file {
            AnyModel::F32(f) => {
                mdpn_onnx::export(&f.model, mdpn_onnx::Synapses::Tables, &program())
            }
            AnyModel::Int8(f) => mdpn_onnx::export_int8(&f.model, &program()),
        };
        write_atomic(&path, &bytes.map_err(py_err)?).map_err(file_err)
    }

    /// Writes an int8 model as C99 for a microcontroller into the folder `out` (made if
    /// missing), as `mdpn export --format c`: `mdpn.h` and `mdpn.c`, integers only, weights as
    /// const arrays, `int mdpn_classify(const uint8_t *pixels, int32_t *scores)`.
    fn export_c(&self, out: PathBuf) -> PyResult<()> {
        let file = self.int8("the C export")?;
        let about = micro_export::about(file.dataset.as_deref(), &program());
        write_sources(
            &out,
            &micro_export::c_files(&file.model, &file.class_names, &about),
        )
    }

    /// Writes an int8 model as Rust constants for the `no_std` crate `mdpn-micro` into the
    /// folder `out` (made if missing), as `mdpn export --format rust`: `mdpn_model.rs`.
    fn export_rust(&self, out: PathBuf) -> PyResult<()> {
        let file = self.int8("the Rust export")?;
        let about = micro_export::about(file.dataset.as_deref(), &program());
        write_sources(
            &out,
            &[micro_export::rust_file(
                &file.model,
                &file.class_names,
                &about,
            )],
        )
    }

    /// Every setting of the model (shape, constants, normalisation, task), as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let json =
            serde_json::to_string(self.cfg()).map_err(|e| PyValueError::new_err(e.to_string()))?;
        py.import("json")?.call_method1("loads", (json,))
    }

    /// The class names, in the order of the probability columns.
    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.file.class_names().to_vec()
    }

    /// Number of trainable parameters.
    #[getter]
    fn parameter_count(&self) -> usize {
        self.cfg().parameter_count()
    }

    /// The parameters as NumPy float32 arrays under the authors' PyTorch names and shapes
    /// (`model.0.params.w`, ...): `torch.from_numpy` of each gives their model's weights.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let AnyModel::F32(file) = &self.file else {
            return Err(PyValueError::new_err(
                "an int8 model has no f32 state dict: take it from the f32 model it was quantized from",
            ));
        };
        let dict = PyDict::new(py);
        let params = &file.model.params;
        for ((name, shape), values) in TENSOR_NAMES
            .iter()
            .zip(Params::shapes(self.cfg()))
            .zip(params.tensors())
        {
            dict.set_item(name, PyArray1::from_slice(py, values).reshape(shape)?)?;
        }
        Ok(dict)
    }

    /// A model from the authors' PyTorch state dict: a mapping of their six tensor names to
    /// arrays (NumPy, or anything `numpy.asarray` takes, such as CPU torch tensors). A state
    /// dict carries no settings: the shape comes from the tensors, `image_size` settles an
    /// ambiguous one, `mean` and `std` default to 0.5 and 0.5, as `mdpn import`.
    #[staticmethod]
    #[pyo3(signature = (tensors, *, image_size=None, mean=None, std=None, class_names=None))]
    fn from_state_dict(
        tensors: &Bound<'_, PyAny>,
        image_size: Option<usize>,
        mean: Option<f32>,
        std: Option<f32>,
        class_names: Option<Vec<String>>,
    ) -> PyResult<Model> {
        let py = tensors.py();
        let np = py.import("numpy")?;
        let mut found = Vec::new();
        for name in TENSOR_NAMES {
            let value = tensors.get_item(name).map_err(|_| {
                PyValueError::new_err(format!(
                    "the state dict has no `{name}`: the authors' model has {}",
                    TENSOR_NAMES.join(", ")
                ))
            })?;
            let array = np.call_method1("asarray", (value, "float32"))?;
            let array = array
                .cast::<PyArrayDyn<f32>>()?
                .try_readonly()
                .map_err(|e| PyValueError::new_err(format!("{name} cannot be read: {e}")))?;
            let shape = array.shape().to_vec();
            found.push((name, shape, array.as_array().iter().copied().collect()));
        }
        let extra: Vec<String> = tensors
            .call_method0("keys")?
            .try_iter()?
            .map(|k| k?.extract::<String>())
            .collect::<PyResult<Vec<_>>>()?
            .into_iter()
            .filter(|k| !TENSOR_NAMES.contains(&k.as_str()))
            .collect();
        if !extra.is_empty() {
            return Err(PyValueError::new_err(format!(
                "the state dict has tensors the authors' model does not: {}",
                extra.join(", ")
            )));
        }
        let options = StateDictOptions {
            image_size,
            mean,
            std,
            ..Default::default()
        };
        let mut file = model_file::from_state_dict(found, &options).map_err(py_err)?;
        if let Some(names) = class_names {
            if names.len() != file.model.config.classes {
                return Err(PyValueError::new_err(format!(
                    "{} class names for a model of {} classes",
                    names.len(),
                    file.model.config.classes
                )));
            }
            file.class_names = names;
        }
        Ok(file.into())
    }

    /// Writes the model as an `mdpn` model file (safetensors: the authors' tensor names, and
    /// every setting in its metadata; int8 models as `mdpn quantize` writes them), which
    /// `mdpn eval --model` reads.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        write_atomic(&path, &self.file.save().map_err(py_err)?).map_err(file_err)
    }

    /// The bytes of the model file that `save` writes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.file.save().map_err(py_err)?))
    }

    /// A model from the bytes of a model file, f32 or int8.
    #[staticmethod]
    fn from_bytes(bytes: &[u8]) -> PyResult<Model> {
        Ok(Model {
            file: AnyModel::load(bytes, &StateDictOptions::default()).map_err(py_err)?,
        })
    }

    /// Pickles as the model file's bytes.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let from_bytes = slf.get_type().getattr("from_bytes")?;
        Ok((from_bytes, (slf.get().to_bytes(py)?,)))
    }

    fn __repr__(&self) -> String {
        let cfg = self.cfg();
        let (precision, written_by) = match &self.file {
            AnyModel::F32(f) => ("", &f.program),
            AnyModel::Int8(f) => (", int8", &f.program),
        };
        format!(
            "mdpn.Model({} classes, {} dendrites, images {} -> {} parameters{precision}; {})",
            cfg.classes,
            cfg.dendrites,
            tuple(&[cfg.channels, cfg.image_size, cfg.image_size]),
            cfg.parameter_count(),
            if written_by.is_empty() {
                program()
            } else {
                written_by.clone()
            }
        )
    }
}

/// Writes generated source files into the folder `out`, made if missing.
fn write_sources(out: &std::path::Path, files: &[SourceFile]) -> PyResult<()> {
    std::fs::create_dir_all(out).map_err(|e| {
        PyValueError::new_err(format!("cannot make the folder {}: {e}", out.display()))
    })?;
    for f in files {
        write_atomic(&out.join(f.name), f.text.as_bytes()).map_err(file_err)?;
    }
    Ok(())
}
