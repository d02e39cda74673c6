//! MDPN in the browser: the model core behind a small JavaScript binding (`wasm-bindgen`).
//!
//! The page (`web/`) decodes an image file or reads its canvas into RGBA pixels; this crate makes
//! them the model's input exactly as `mdpn predict` does (same resize filter, same colour
//! conversion, same kernel), so the probabilities agree with the command line's.

use image::{DynamicImage, RgbaImage};
use mdpn::any_model::AnyModel;
use mdpn::kernels::plain;
use mdpn::state_dict::StateDictOptions;
use mdpn_data::decoded_image::planes;
use wasm_bindgen::prelude::*;

/// Largest image side taken, as `mdpn predict` decodes.
const IMAGE_MAX_SIDE: u32 = 8192;

/// A loaded model file, f32 (`mdpn train`, or a state dict) or int8 (`mdpn quantize`).
#[wasm_bindgen]
pub struct Classifier {
    model: AnyModel,
}

#[wasm_bindgen]
impl Classifier {
    /// Reads a model file (or a `state_dict` of the authors' model) from its bytes; bad bytes
    /// throw an `Error` whose message says what is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<Classifier, JsError> {
        let model = AnyModel::load(bytes, &StateDictOptions::default())
            .map_err(|e| JsError::new(&format!("not an MDPN model file: {e}")))?;
        Ok(Classifier { model })
    }

    #[wasm_bindgen(getter, js_name = classNames)]
    pub fn class_names(&self) -> Vec<String> {
        self.model.class_names().to_vec()
    }

    /// The data set the model was trained on, if the file says.
    #[wasm_bindgen(getter)]
    pub fn dataset(&self) -> Option<String> {
        self.model.dataset().map(str::to_string)
    }

    /// Side of the square image the model takes.
    #[wasm_bindgen(getter, js_name = imageSize)]
    pub fn image_size(&self) -> usize {
        self.model.config().image_size
    }

    /// 1 (gray) or 3 (RGB).
    #[wasm_bindgen(getter)]
    pub fn channels(&self) -> usize {
        self.model.config().channels
    }

    /// Number of dendrites M per channel.
    #[wasm_bindgen(getter)]
    pub fn dendrites(&self) -> usize {
        self.model.config().dendrites
    }

    /// Side S of each dendrite map (image side − window + 1).
    #[wasm_bindgen(getter, js_name = mapSide)]
    pub fn map_side(&self) -> usize {
        self.model.config().dendrite_side()
    }

    /// The model's input of an RGBA image of any size: resized to the model's side with the
    /// triangle filter when it differs, converted to gray or RGB, planes in (channel, row,
    /// column) order, as `mdpn predict` makes them.
    pub fn pixels(&self, rgba: Vec<u8>, width: u32, height: u32) -> Result<Vec<u8>, JsError> {
        if width == 0 || height == 0 || width > IMAGE_MAX_SIDE || height > IMAGE_MAX_SIDE {
            return Err(JsError::new(&format!(
                "an image is 1 to {IMAGE_MAX_SIDE} pixels wide and high; this one is {width}x{height}"
            )));
        }
        let found = rgba.len();
        let img = RgbaImage::from_raw(width, height, rgba).ok_or_else(|| {
            JsError::new(&format!(
                "a {width}x{height} RGBA image has {} bytes, found {found}",
                4 * width as u64 * height as u64
            ))
        })?;
        Ok(planes(
            DynamicImage::ImageRgba8(img),
            self.image_size() as u32,
            self.channels(),
        ))
    }

    /// Class probabilities of one image given as [`Classifier::pixels`] returns it, computed
    /// by the 8-bit table kernel as `mdpn predict` does. The tables are built for each call: they
    /// borrow the model, and a struct cannot hold a borrow of itself.
    pub fn probabilities(&self, pixels: &[u8]) -> Result<Vec<f32>, JsError> {
        self.check(pixels)?;
        self.model
            .probabilities(pixels)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// The dendrite layer's output of one image, `(C, S, S, M)`: for every channel, window
    /// position and dendrite, `D = Σ_rows ln(Π_cols (Y + c))`, by the reference kernel.
    #[wasm_bindgen(js_name = dendriteMaps)]
    pub fn dendrite_maps(&self, pixels: &[u8]) -> Result<Vec<f32>, JsError> {
        self.check(pixels)?;
        let cfg = self.model.config();
        let (w, q) = self.model.synapses();
        let image: Vec<f32> = pixels.iter().map(|&v| cfg.normalise(v)).collect();
        Ok(plain::dendrites(cfg, w, q, &image))
    }
}

impl Classifier {
    /// One image of the model's size, or an error that says both sizes.
    fn check(&self, pixels: &[u8]) -> Result<(), JsError> {
        let want = self.model.config().image_len();
        if pixels.len() != want {
            return Err(JsError::new(&format!(
                "the model takes {want} pixel values (one {0}x{0} image of {1} channels), found {2}",
                self.image_size(),
                self.channels(),
                pixels.len()
            )));
        }
        Ok(())
    }
}
