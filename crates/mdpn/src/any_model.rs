//! A model file of either precision, f32 ([`model_file`]) or int8 ([`quantized_file`]), told
//! apart by its metadata: what the programs that run models (the command line, the browser)
//! load and run.

use crate::evaluation::Classifier;
use crate::kernels;
use crate::kernels::lut::Tables;
use crate::model_file::{self, ModelFile};
use crate::quantized_file::{self, QuantizedFile};
use crate::state_dict::StateDictOptions;
use crate::{Config, Images, KernelChoice, Result};

/// An f32 model file (`mdpn train`, or an authors' state dict) or an int8 one (`mdpn quantize`).
/// A program holds one or two, never a collection, so the int8 variant's larger size is kept
/// inline rather than boxed.
#[allow(clippy::large_enum_variant)]
pub enum AnyModel {
    F32(ModelFile),
    Int8(QuantizedFile),
}

impl AnyModel {
    /// Reads either kind of file from its bytes; `options` serve f32 state dicts only.
    pub fn load(bytes: &[u8], options: &StateDictOptions) -> Result<AnyModel> {
        Ok(if quantized_file::is_int8(bytes) {
            AnyModel::Int8(quantized_file::load(bytes)?)
        } else {
            AnyModel::F32(model_file::load(bytes, options)?)
        })
    }

    /// The bytes of the file: as `mdpn train` writes an f32 model, or `mdpn quantize` an int8 one.
    pub fn save(&self) -> Result<Vec<u8>> {
        match self {
            AnyModel::F32(f) => model_file::save(f),
            AnyModel::Int8(f) => quantized_file::save(f),
        }
    }

    pub fn config(&self) -> &Config {
        match self {
            AnyModel::F32(f) => &f.model.config,
            AnyModel::Int8(f) => &f.model.config,
        }
    }

    /// The configuration, to change what does not alter the tensors (the normalisation).
    pub fn config_mut(&mut self) -> &mut Config {
        match self {
            AnyModel::F32(f) => &mut f.model.config,
            AnyModel::Int8(f) => &mut f.model.config,
        }
    }

    pub fn class_names(&self) -> &[String] {
        match self {
            AnyModel::F32(f) => &f.class_names,
            AnyModel::Int8(f) => &f.class_names,
        }
    }

    /// The data set the model was trained on, if the file says.
    pub fn dataset(&self) -> Option<&str> {
        match self {
            AnyModel::F32(f) => f.dataset.as_deref(),
            AnyModel::Int8(f) => f.dataset.as_deref(),
        }
    }

    /// The synapses' weights and thresholds, f32 in both kinds of file.
    pub fn synapses(&self) -> (&[f32], &[f32]) {
        match self {
            AnyModel::F32(f) => (&f.model.params.w, &f.model.params.q),
            AnyModel::Int8(f) => (&f.model.w, &f.model.q),
        }
    }

    /// The model as evaluation takes it.
    pub fn classifier(&self) -> &dyn Classifier {
        match self {
            AnyModel::F32(f) => &f.model,
            AnyModel::Int8(f) => &f.model,
        }
    }

    /// Tables of the 8-bit dendrite kernel over the f32 synapses, to build once for many
    /// batches of [`AnyModel::membrane`] and, for f32 models, [`AnyModel::logits`].
    pub fn tables(&self) -> Tables<'_> {
        match self {
            AnyModel::F32(f) => f.model.tables(),
            AnyModel::Int8(f) => Tables::new(&f.model.config, &f.model.w, &f.model.q),
        }
    }

    /// Logits `(B, classes)` of a batch of 8-bit images: on the 8-bit kernel with `tables` for
    /// f32 models, on the integer path (whose tables are made with the model) for int8 ones.
    pub fn logits(&self, images: &[u8], tables: &Tables) -> Result<Vec<f32>> {
        match self {
            AnyModel::F32(f) => {
                let (images, fast) = (Images::U8(images), KernelChoice::Fast);
                Ok(f.model.forward(images, fast, Some(tables))?.logits)
            }
            AnyModel::Int8(f) => f.model.logits(images),
        }
    }

    /// The membrane layer's output `(B, features)` (the dendrite maps max-pooled) of the f32
    /// synapses, which int8 files keep too (their integer path rounds them to fixed point).
    /// `tables` must be given for the 8-bit kernel to run on 8-bit images.
    pub fn membrane(
        &self,
        images: Images,
        choice: KernelChoice,
        tables: Option<&Tables>,
    ) -> Result<Vec<f32>> {
        let config = self.config();
        let batch = config.batch_len(images)?;
        Ok(kernels::forward(config, self.synapses(), images, batch, choice, tables)?.0)
    }

    /// Class probabilities `(B, classes)` of a batch of 8-bit images, as [`AnyModel::logits`].
    pub fn probabilities(&self, images: &[u8]) -> Result<Vec<f32>> {
        match self {
            AnyModel::F32(f) => f
                .model
                .probabilities(Images::U8(images), KernelChoice::Fast),
            AnyModel::Int8(f) => f.model.probabilities(images),
        }
    }
}
