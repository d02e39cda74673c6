//! A decoded image (any size, any colour) as the model's input: one conversion for every front
//! end (`mdpn predict`, image folders, the web page), so the same picture gives the same pixels
//! and the same probabilities everywhere. No codecs: the callers decode.

use image::imageops::FilterType;
use image::DynamicImage;

/// `img` as the model takes it: resized to `side`x`side` with the triangle filter when its size
/// differs, converted to gray when `channels` is 1 and to RGB otherwise, planes in (channel,
/// row, column) order. A model of another channel count than 1 or 3 gets three planes, which
/// its input check refuses.
pub fn planes(img: DynamicImage, side: u32, channels: usize) -> Vec<u8> {
    let img = if (img.width(), img.height()) != (side, side) {
        img.resize_exact(side, side, FilterType::Triangle)
    } else {
        img
    };
    if channels == 1 {
        img.to_luma8().into_raw()
    } else {
        let rgb = img.to_rgb8();
        (0..3)
            .flat_map(|ch| rgb.pixels().map(move |p| p[ch]))
            .collect()
    }
}
