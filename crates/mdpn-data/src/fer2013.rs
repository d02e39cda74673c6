//! FER2013, the Kaggle facial expression set: a CSV of 48x48 gray faces. Both published layouts
//! are read: `fer2013.csv` (`emotion,pixels,Usage`) and `icml_face_data.csv`
//! (`emotion, Usage, pixels`, names with leading spaces).

use mdpn::{Dataset, Parts};
use mdpn::{Error, Result};

/// The CSV files of FER2013 that are read, in order of preference.
pub const FILES: [&str; 2] = ["fer2013.csv", "icml_face_data.csv"];

/// The seven emotions, in label order.
pub const CLASSES: [&str; 7] = [
    "Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral",
];

/// Side of every image.
pub const SIZE: usize = 48;

/// Parses the CSV into its usual parts: `Training` trains, `PublicTest` validates and
/// `PrivateTest` tests.
pub fn parse(bytes: &[u8]) -> Result<Parts> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::Format(format!("not a text (UTF-8) CSV file: {e}")))?;
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .ok_or_else(|| Error::Format("the file is empty".into()))?;
    let columns: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let col = |name: &str| {
        columns.iter().position(|c| c == name).ok_or_else(|| {
            Error::Format(format!(
                "the header `{header}` has no `{name}` column; expected emotion, pixels and Usage"
            ))
        })
    };
    let (emotion, pixels, usage) = (col("emotion")?, col("pixels")?, col("usage")?);
    let mut parts: [(Vec<u8>, Vec<u32>); 3] = Default::default();
    for (i, line) in lines {
        let row = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line
            .split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect();
        if fields.len() != columns.len() {
            return Err(Error::Format(format!(
                "line {row}: {} fields, the header has {}",
                fields.len(),
                columns.len()
            )));
        }
        let label: u32 = fields[emotion]
            .parse()
            .ok()
            .filter(|&l| (l as usize) < CLASSES.len())
            .ok_or_else(|| {
                Error::Format(format!(
                    "line {row}: emotion `{}` is not a class number 0..=6",
                    fields[emotion]
                ))
            })?;
        let part = match fields[usage] {
            "Training" => 0,
            "PublicTest" => 1,
            "PrivateTest" => 2,
            u => {
                return Err(Error::Format(format!(
                    "line {row}: Usage `{u}` is not Training, PublicTest or PrivateTest"
                )))
            }
        };
        let (images, labels) = &mut parts[part];
        let before = images.len();
        for p in fields[pixels].split_ascii_whitespace() {
            let v = p.parse::<u8>().map_err(|_| {
                Error::Format(format!("line {row}: pixel `{p}` is not a value 0..=255"))
            })?;
            images.push(v);
        }
        let count = images.len() - before;
        if count != SIZE * SIZE {
            return Err(Error::Format(format!(
                "line {row}: {count} pixels, expected {} (48x48)",
                SIZE * SIZE
            )));
        }
        labels.push(label);
    }
    let names: Vec<String> = CLASSES.iter().map(|s| s.to_string()).collect();
    let [train, val, test] = parts;
    let set = |(images, labels): (Vec<u8>, Vec<u32>), which: &str| {
        if labels.is_empty() {
            return Err(Error::Format(format!("no {which} row")));
        }
        Dataset::new(images, labels, 1, SIZE, names.clone())
    };
    Ok(Parts {
        train: set(train, "Training")?,
        validation: Some(set(val, "PublicTest")?),
        test: set(test, "PrivateTest")?,
    })
}
