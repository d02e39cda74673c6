//! Quantizing a model file: the int8 model of an f32 one ([`crate::quantized`]), its
//! activations calibrated on images, described in words in the file it makes. `mdpn quantize`,
//! `mdpn study` and Python's `mdpn.quantize` all make their int8 models here, MDPN's and the
//! baselines' ([`crate::baselines::quantized`]).

use crate::baselines::baseline_file::{BaselineFile, QuantizedBaselineFile};
use crate::baselines::quantized::QuantizedBaseline;
use crate::error::{Error, Result};
use crate::model_file::ModelFile;
use crate::quantized::{calibrate, QuantizedMdpn, WeightBits};
use crate::quantized_file::QuantizedFile;

/// Training images that calibrate the activations unless told otherwise: the first 10,000.
pub const CALIBRATION_IMAGES: usize = 10_000;

/// The int8 model of `file`, its activations calibrated on `images` (8-bit images of the
/// model's shape, one after another), which are the first of `source` (as "training images of
/// fashion-mnist"); `program` is recorded as the file's writer.
pub fn quantize(
    file: &ModelFile,
    images: &[u8],
    source: &str,
    program: String,
    soma_bits: WeightBits,
) -> Result<QuantizedFile> {
    let len = file.model.config.image_len();
    if images.is_empty() || !images.len().is_multiple_of(len) {
        return Err(Error::Shape(format!(
            "calibration needs at least one image of {len} pixels; got {} values",
            images.len()
        )));
    }
    let n = images.len() / len;
    let calibration = calibrate(&file.model, images)?;
    let model = QuantizedMdpn::with_bits(&file.model, &calibration, soma_bits)?;
    let synapses = &model.integer.synapses;
    let quantization = format!(
        "soma weights int{}, axon weights int8, symmetric, one scale per output row; their inputs uint8, one \
         scale and zero point per tensor, covering the range over the first {n} {source} \
         (membrane {:?}, soma {:?}); synapses in fixed point (2^-{} of z), a table of {} entries of \
         ln(Y + c) in 2^-{}; integers only from pixel to score",
        soma_bits.count(),
        calibration.membrane,
        calibration.hidden,
        synapses.z_frac,
        synapses.table.len(),
        synapses.ln_frac
    );
    Ok(QuantizedFile {
        model,
        class_names: file.class_names.clone(),
        dataset: file.dataset.clone(),
        program,
        quantization,
        format_version: crate::quantized_file::FORMAT_VERSION,
    })
}

/// The int8 model of a baseline `file`, every layer's input calibrated on `images` (8-bit images
/// of the model's shape), the first of `source`, the weights of every layer but the last of
/// `hidden_bits`; `program` is recorded as the file's writer.
pub fn quantize_baseline(
    file: &BaselineFile,
    images: &[u8],
    source: &str,
    program: String,
    hidden_bits: WeightBits,
) -> Result<QuantizedBaselineFile> {
    let model = QuantizedBaseline::new(&file.model, images, hidden_bits)?;
    let n = images.len() / model.architecture.image_len();
    let ranges: Vec<_> = model
        .layers
        .iter()
        .map(|l| (l.input.scale, l.input.zero_point))
        .collect();
    let quantization = format!(
        "the weights of every layer but the last int{}, of the last int8, symmetric, one scale per \
         output row; every layer's input uint8, one \
         scale and zero point per tensor (scale, zero point: {ranges:?}), covering the range \
         over the first {n} {source}; integer sums requantised in fixed point: integers from \
         pixel to score, as MDPN's soma and axon",
        hidden_bits.count()
    );
    Ok(QuantizedBaselineFile {
        model,
        class_names: file.class_names.clone(),
        dataset: file.dataset.clone(),
        program,
        quantization,
    })
}
