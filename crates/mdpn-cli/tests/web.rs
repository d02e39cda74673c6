//! The browser page (`web/`) in a real headless chromium: built by `scripts/build-web.sh`,
//! served on loopback by a real HTTP server, its probabilities compared with `mdpn predict`'s,
//! a bad model file shown as an error on the page, and a screenshot of it taken.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;

use image::{ImageFormat, Rgb, RgbImage};
use serde_json::Value;

use crate::common::{ok, Tab};

const MODEL: &str = "models/fashion-mnist-int8.safetensors";
const IMAGE: &str = "img/ankle-boot.png";
/// A path the server answers with bytes that are no model file.
const BAD_MODEL: &str = "/test/bad.safetensors";
/// A path the server answers with a colour image that is not 28×28, made by [`odd_image`].
const ODD_IMAGE: &str = "/test/odd.png";
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A 45×60 RGB image: the test image tinted and stretched, so the page must resize it.
fn odd_image() -> Vec<u8> {
    let gray = image::open(root().join("web").join(IMAGE))
        .expect("test image")
        .to_luma8();
    let img = RgbImage::from_fn(45, 60, |x, y| {
        let v = gray.get_pixel(x * 28 / 45, y * 28 / 60)[0];
        Rgb([v, v / 2, 255 - v])
    });
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .expect("encode PNG");
    png
}

/// The page, served: the address it is served at.
struct Page {
    base: String,
}

/// Builds the page once, then serves `web/` (and the test paths) on 127.0.0.1 from a thread.
fn page() -> &'static Page {
    static PAGE: OnceLock<Page> = OnceLock::new();
    PAGE.get_or_init(|| {
        let built = Command::new(root().join("scripts/build-web.sh"))
            .status()
            .expect("run scripts/build-web.sh");
        assert!(built.success(), "scripts/build-web.sh failed");
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", server.server_addr());
        let web = root().join("web");
        let odd = odd_image();
        thread::spawn(move || {
            for request in server.incoming_requests() {
                let path = request.url().split('?').next().unwrap_or("").to_string();
                let body = match path.as_str() {
                    BAD_MODEL => Some(b"this is not a model file".to_vec()),
                    ODD_IMAGE => Some(odd.clone()),
                    p if p.contains("..") => None,
                    "/" => std::fs::read(web.join("index.html")).ok(),
                    p => std::fs::read(web.join(p.trim_start_matches('/'))).ok(),
                };
                let response = match body {
                    Some(body) => {
                        let kind = content_type(&path);
                        let header = tiny_http::Header::from_bytes("Content-Type", kind).unwrap();
                        tiny_http::Response::from_data(body).with_header(header)
                    }
                    None => {
                        tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404)
                    }
                };
                // A browser that hung up is its own test's concern.
                let _ = request.respond(response);
            }
        });
        Page { base }
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("png") => "image/png",
        Some("safetensors") => "application/octet-stream",
        _ => "text/html; charset=utf-8",
    }
}

/// The text of the element with `id` in chromium's dump of the DOM, and whether it is hidden.
fn element(dom: &str, id: &str) -> (String, bool) {
    let open = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id} in the page:\n{dom}"));
    let tag_end = open + dom[open..].find('>').expect("end of tag");
    let close = tag_end + dom[tag_end..].find("</").expect("closing tag");
    let text = dom[tag_end + 1..close]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let hidden = dom[open..tag_end].contains(" hidden");
    (text, hidden)
}

/// The page's result in test mode, as JSON, and its DOM then.
fn test_result(query: &str) -> (Value, String) {
    let mut tab = Tab::open(&format!("{}/index.html?{query}", page().base), 1280, 720);
    let json = tab.text_of("result");
    let value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("page result is not JSON ({e}): {json:?}"));
    let dom = tab.evaluate("document.documentElement.outerHTML");
    (value, dom.as_str().expect("the DOM").to_string())
}

fn probabilities(v: &Value) -> Vec<f64> {
    v["probabilities"]
        .as_array()
        .unwrap_or_else(|| panic!("no probabilities in {v}"))
        .iter()
        .map(|p| p.as_f64().expect("a number"))
        .collect()
}

/// `mdpn predict --json` on `image` with the page's default model.
fn predict(image: &Path) -> Value {
    let model = root().join("web").join(MODEL);
    let out = ok(&[
        "predict",
        "--json",
        "--model",
        model.to_str().unwrap(),
        image.to_str().unwrap(),
    ]);
    serde_json::from_str(&out).expect("predict prints JSON")
}

fn assert_close(page: &Value, cli: &Value) {
    let (p, q) = (probabilities(page), probabilities(cli));
    assert_eq!(p.len(), 10, "{page}");
    assert_eq!(p.len(), q.len());
    for (c, (a, b)) in p.iter().zip(&q).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5,
            "class {c}: page {a}, mdpn predict {b}"
        );
    }
    assert_eq!(page["top"][0]["name"], cli["top"][0]["name"]);
}

#[test]
fn page_classifies_the_test_image_as_mdpn_predict_does() {
    let (page, _) = test_result(&format!("test={IMAGE}"));
    let cli = predict(&root().join("web").join(IMAGE));
    assert_close(&page, &cli);
    assert_eq!(page["top"][0]["name"], "Ankle boot");
}

/// Times classification (in real time: the tab is driven over DevTools, not by virtual time).
/// Prints the time; asserts only that it was measured.
#[test]
fn page_reports_its_time_per_image() {
    let (report, _) = test_result(&format!("test={IMAGE}"));
    let ms = report["ms_per_image"].as_f64().expect("timing");
    let maps = report["ms_per_dendrite_maps"].as_f64().expect("timing");
    assert!(ms > 0.0 && maps > 0.0, "{report}");
    println!(
        "browser: {ms:.3} ms per image, {maps:.3} ms per image's dendrite maps ({} runs each)",
        report["timing_runs"]
    );
}

#[test]
fn page_resizes_a_colour_image_as_mdpn_predict_does() {
    let (page, _) = test_result(&format!("test={ODD_IMAGE}"));
    assert_eq!(page["size"], serde_json::json!([45, 60]));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("odd.png");
    std::fs::write(&file, odd_image()).expect("write image");
    let cli = predict(&file);
    assert_eq!(cli["resized_from"], serde_json::json!([45, 60]));
    assert_close(&page, &cli);
}

#[test]
fn a_bad_model_file_shows_an_error_on_the_page() {
    for (model, says) in [
        (BAD_MODEL, "not a safetensors file"),
        ("/test/missing.safetensors", "HTTP 404"),
    ] {
        let (page, dom) = test_result(&format!("model={model}&test={IMAGE}"));
        let error = page["error"].as_str().unwrap_or_else(|| panic!("{page}"));
        assert!(error.contains(model) && error.contains(says), "{error}");
        let (shown, hidden) = element(&dom, "error");
        assert!(!hidden, "the error is hidden:\n{dom}");
        assert_eq!(shown, error);
    }
}

#[test]
fn screenshot_of_the_page_is_not_blank() {
    let mut tab = Tab::open(
        &format!("{}/index.html?test={IMAGE}", page().base),
        1280,
        720,
    );
    tab.text_of("result");
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-page.png");
    std::fs::write(&file, tab.screenshot()).expect("write screenshot");
    let shot = image::open(&file).expect("screenshot is a PNG").to_rgb8();
    assert_eq!(shot.dimensions(), (1280, 720));
    let mut colours: Vec<[u8; 3]> = shot.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    // The drawn image, the bars and the fifty coloured dendrite maps.
    assert!(colours.len() > 500, "{} colours only", colours.len());
    println!("screenshot: {}", file.display());
}
