//! Every data set format, read from small files written here in that format: shapes,
//! orientation, labels, class names, and a clear error for each kind of bad input.

#[path = "common/file_bytes.rs"]
mod file_bytes;

use file_bytes::{gzip, idx, idx_typed, npy, npz, zip_archive};
use mdpn::Task;
use mdpn_data::cifar::{self, Labels};
use mdpn_data::emnist::{self, Split};
use mdpn_data::fer2013;
use mdpn_data::idx::{self, Idx};
use mdpn_data::medmnist::{self, MEDMNIST};
use mdpn_data::npy::{parse_npy, Dtype, Npz};
use zip::CompressionMethod;

fn err(r: mdpn::Result<impl std::fmt::Debug>) -> String {
    r.expect_err("should fail").to_string()
}

#[test]
fn idx_reads_every_type_code() {
    // 2 images of 2x2 in u8, i16 and f32 (0..1 floats scale to 0..255).
    let u8_images = idx(&[2, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 255]);
    let i16_images: Vec<u8> = [0i16, 1, 2, 3, 4, 5, 6, 255]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let i16_images = idx_typed(0x0B, &[2, 2, 2], &i16_images);
    let f32_images: Vec<u8> = [0.0f32, 1.0 / 255.0, 0.5, 1.0, 0.0, 0.0, 0.0, 1.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let f32_images = idx_typed(0x0D, &[2, 2, 2], &f32_images);
    let labels_i32: Vec<u8> = [1i32, 0].iter().flat_map(|v| v.to_be_bytes()).collect();
    let labels = idx_typed(0x0C, &[2], &labels_i32);
    let names = ["zero", "one"];
    let a = idx::dataset(
        Idx::parse(&gzip(&u8_images)).unwrap(),
        Idx::parse(&labels).unwrap(),
        &names,
    )
    .unwrap();
    assert_eq!((a.len(), a.channels, a.size), (2, 1, 2));
    assert_eq!(a.images, vec![0, 1, 2, 3, 4, 5, 6, 255]);
    assert_eq!(a.labels, vec![1, 0]);
    let b = idx::dataset(
        Idx::parse(&i16_images).unwrap(),
        Idx::parse(&labels).unwrap(),
        &names,
    )
    .unwrap();
    assert_eq!(b.images, a.images);
    let c = idx::dataset(
        Idx::parse(&f32_images).unwrap(),
        Idx::parse(&labels).unwrap(),
        &names,
    )
    .unwrap();
    assert_eq!(c.images, vec![0, 1, 128, 255, 0, 0, 0, 255]);

    // Bad input: counts that differ, a label out of range, negative pixels, absurd sizes.
    let three = idx(&[3], &[0, 1, 0]);
    let e = err(idx::dataset(
        Idx::parse(&u8_images).unwrap(),
        Idx::parse(&three).unwrap(),
        &names,
    ));
    assert!(e.contains("2 images but 3 labels"), "{e}");
    let big = idx(&[2], &[0, 7]);
    let e = err(idx::dataset(
        Idx::parse(&u8_images).unwrap(),
        Idx::parse(&big).unwrap(),
        &names,
    ));
    assert!(e.contains("label 7 of image 1 is out of range"), "{e}");
    let neg = idx_typed(0x09, &[1, 1, 1], &[0xff]);
    let e = err(Idx::parse(&neg).unwrap().pixels());
    assert!(
        e.contains("pixel values range from -1 to -1; expected integers in 0..=255"),
        "{e}"
    );
    let absurd = idx(&[4_000_000_000, 28, 28], &[0; 16]);
    let e = err(Idx::parse(&absurd));
    assert!(e.contains("truncated"), "{e}");
    let e = err(Idx::parse(&gzip(&absurd)));
    assert!(e.contains("more than the compressed file can hold"), "{e}");
    let e = err(Idx::parse(b"\x01\x02\x08\x01abcd"));
    assert!(e.contains("not an IDX file"), "{e}");
}

#[test]
fn emnist_comes_out_upright_with_shifted_letters() {
    // One 3x3 image stored transposed, as NIST does: upright row 0 is 1 2 3.
    let upright = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
    let stored = [1u8, 4, 7, 2, 5, 8, 3, 6, 9];
    let images = idx(&[1, 3, 3], &stored);
    let labels = idx(&[1], &[26]);
    let set = emnist::dataset(
        Idx::parse(&images).unwrap(),
        Idx::parse(&labels).unwrap(),
        Split::Letters,
    )
    .unwrap();
    assert_eq!(set.images, upright);
    assert_eq!(set.labels, vec![25]);
    assert_eq!(set.class_names.len(), 26);
    assert_eq!(set.class_names[25], "z");
    let zero = idx(&[1], &[0]);
    let e = err(emnist::dataset(
        Idx::parse(&images).unwrap(),
        Idx::parse(&zero).unwrap(),
        Split::Letters,
    ));
    assert!(e.contains("outside 1..=26"), "{e}");

    let counts: Vec<usize> = emnist::SPLITS
        .iter()
        .map(|s| s.class_names().len())
        .collect();
    assert_eq!(counts, vec![62, 47, 47, 26, 10, 10]);
    let bymerge = Split::ByMerge.class_names();
    assert_eq!(
        bymerge[36..],
        ["a", "b", "d", "e", "f", "g", "h", "n", "q", "r", "t"]
    );

    // Straight from a gzip.zip laid out as NIST's (members under gzip/, gzipped).
    let byclass = Split::ByClass.files();
    let members = [
        (&byclass[0], idx(&[2, 3, 3], &[stored, stored].concat())),
        (&byclass[1], idx(&[2], &[61, 10])),
        (&byclass[2], idx(&[1, 3, 3], &stored)),
        (&byclass[3], idx(&[1], &[0])),
    ]
    .map(|(name, data)| (format!("gzip/{name}.gz"), gzip(&data)));
    let bytes = zip_archive(&members, CompressionMethod::Stored);
    let parts = emnist::parse_zip(&bytes, Split::ByClass).unwrap();
    assert_eq!(parts.train.len(), 2);
    assert_eq!(parts.train.image(1), upright);
    assert_eq!(parts.train.labels, vec![61, 10]);
    assert_eq!(parts.train.class_names[61], "z");
    assert_eq!(parts.train.class_names[10], "A");
    assert_eq!(parts.test.len(), 1);
    let e = err(emnist::parse_zip(&bytes, Split::Digits));
    assert!(
        e.contains("no member emnist-digits-train-images-idx3-ubyte.gz"),
        "{e}"
    );
}

#[test]
fn cifar_records_and_labels() {
    let record = |label: &[u8], seed: u8| -> Vec<u8> {
        let mut r = label.to_vec();
        r.extend((0..3072).map(|i| (i as u8).wrapping_mul(seed)));
        r
    };
    let bytes = [record(&[3], 1), record(&[9], 2)].concat();
    let set = cifar::parse_cifar10(&bytes).unwrap();
    assert_eq!((set.len(), set.channels, set.size), (2, 3, 32));
    assert_eq!(set.labels, vec![3, 9]);
    assert_eq!(set.class_names[3], "cat");
    // Planes stay R, G, B: the first green pixel is byte 1024 of the record's pixels.
    assert_eq!(set.image(1)[1024], 0);
    assert_eq!(set.image(1)[1], 2);
    let e = err(cifar::parse_cifar10(&bytes[..bytes.len() - 5]));
    assert!(e.contains("not a whole number of 3073-byte"), "{e}");
    let e = err(cifar::parse_cifar10(&record(&[10], 1)));
    assert!(e.contains("label 10 of image 0 is out of range"), "{e}");

    assert_eq!(cifar::CIFAR100_FINE.len(), 100);
    let bytes = [record(&[19, 99], 1), record(&[0, 4], 3)].concat();
    let fine = cifar::parse_cifar100(&bytes, Labels::Fine).unwrap();
    let coarse = cifar::parse_cifar100(&bytes, Labels::Coarse).unwrap();
    assert_eq!(fine.labels, vec![99, 4]);
    assert_eq!(fine.class_names[99], "worm");
    assert_eq!(coarse.labels, vec![19, 0]);
    assert_eq!(coarse.class_names[19], "vehicles_2");
    assert_eq!(fine.images, coarse.images);
    assert_eq!(fine.image(1)[5], 15);
}

fn fer_row(emotion: u32, usage: &str, pixels: usize, icml: bool) -> String {
    let px: Vec<String> = (0..pixels).map(|i| (i % 256).to_string()).collect();
    if icml {
        format!("{emotion},{usage},{}", px.join(" "))
    } else {
        format!("{emotion},{},{usage}", px.join(" "))
    }
}

#[test]
fn fer2013_both_layouts() {
    for icml in [false, true] {
        let header = if icml {
            "emotion, Usage, pixels"
        } else {
            "emotion,pixels,Usage"
        };
        let csv = [
            header.to_string(),
            fer_row(3, "Training", 2304, icml),
            fer_row(6, "Training", 2304, icml),
            fer_row(0, "PublicTest", 2304, icml),
            fer_row(5, "PrivateTest", 2304, icml),
        ]
        .join("\n");
        let parts = fer2013::parse(csv.as_bytes()).unwrap();
        assert_eq!((parts.train.len(), parts.train.size), (2, 48));
        assert_eq!(parts.train.labels, vec![3, 6]);
        assert_eq!(parts.train.class_names[3], "Happy");
        assert_eq!(parts.train.image(0)[300], (300 % 256) as u8);
        assert_eq!(parts.validation.unwrap().labels, vec![0]);
        assert_eq!(parts.test.labels, vec![5]);
    }
    let csv = format!(
        "emotion,pixels,Usage\n{}\n{}",
        fer_row(3, "Training", 2304, false),
        fer_row(3, "Training", 2300, false)
    );
    let e = err(fer2013::parse(csv.as_bytes()));
    assert!(e.contains("line 3: 2300 pixels, expected 2304"), "{e}");
    let csv = format!(
        "emotion,pixels,Usage\n{}",
        fer_row(7, "Training", 2304, false)
    );
    let e = err(fer2013::parse(csv.as_bytes()));
    assert!(e.contains("line 2: emotion `7`"), "{e}");
    let e = err(fer2013::parse(b"emotion,Usage\n"));
    assert!(e.contains("no `pixels` column"), "{e}");
}

/// A `.npy` file of `descr` and `shape` holding `data` (already in that dtype's bytes).
#[test]
fn npy_dtypes_and_errors() {
    let a = parse_npy(&npy(
        "<i8",
        &[2, 1],
        &[5i64, 7].map(i64::to_le_bytes).concat(),
    ))
    .unwrap();
    assert_eq!((a.shape.clone(), a.dtype), (vec![2, 1], Dtype::I64));
    assert_eq!((a.get(0), a.get(1)), (5.0, 7.0));
    let b = parse_npy(&npy(">f4", &[1], &2.5f32.to_be_bytes())).unwrap();
    assert_eq!(b.get(0), 2.5);
    let e = err(parse_npy(&npy("|u1", &[10], &[0; 9])));
    assert!(e.contains("truncated"), "{e}");
    let e = err(parse_npy(&npy("<c16", &[1], &[0; 16])));
    assert!(e.contains("unsupported dtype"), "{e}");
    let e = err(parse_npy(&npy("\u{e9}x", &[1], &[0])));
    assert!(e.contains("unsupported dtype"), "{e}");
    let e = err(parse_npy(b"PK\x03\x04 not npy"));
    assert!(e.contains("magic"), "{e}");
}

/// A MedMNIST-style npz: `n` images per split of `side`, RGB when `channels` is 3.
fn medmnist_npz(channels: usize, side: usize, labels: &[Vec<u8>; 3], per_image: usize) -> Vec<u8> {
    let mut members = Vec::new();
    for (split, l) in ["train", "val", "test"].iter().zip(labels) {
        let n = l.len() / per_image;
        let mut shape = vec![n, side, side];
        if channels == 3 {
            shape.push(3);
        }
        // Pixel value = channel * 100 + row, so the planes are easy to check.
        let mut px = Vec::new();
        for _ in 0..n {
            for r in 0..side {
                for _ in 0..side {
                    for c in 0..channels {
                        px.push((c * 100 + r) as u8);
                    }
                }
            }
        }
        members.push((format!("{split}_images"), npy("|u1", &shape, &px)));
        let lbl: Vec<u8> = l.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect();
        members.push((format!("{split}_labels"), npy("<i8", &[n, per_image], &lbl)));
    }
    npz(&members, CompressionMethod::Deflated)
}

#[test]
fn medmnist_sets_rgb_gray_and_multi_label() {
    assert_eq!(MEDMNIST.len(), 12);
    let path = medmnist::info("pathmnist").unwrap();
    let bytes = medmnist_npz(3, 4, &[vec![0, 8, 3], vec![1], vec![2, 2]], 1);
    let parts = medmnist::parse(&bytes, path).unwrap();
    assert_eq!(
        (parts.train.len(), parts.train.channels, parts.train.size),
        (3, 3, 4)
    );
    assert_eq!(parts.train.labels, vec![0, 8, 3]);
    assert_eq!(
        parts.train.class_names[8],
        "colorectal adenocarcinoma epithelium"
    );
    assert_eq!(parts.validation.as_ref().unwrap().len(), 1);
    assert_eq!(parts.test.len(), 2);
    // (H, W, C) became (C, H, W): the green plane starts at 16, row 1 of it at 20.
    let img = parts.train.image(0);
    assert_eq!(
        (img[0], img[4], img[16], img[20], img[32]),
        (0, 1, 100, 101, 200)
    );

    let chest = medmnist::info("chestmnist").unwrap();
    assert_eq!(chest.task.task(), Task::MultiLabel);
    let row = |on: &[usize]| -> Vec<u8> { (0..14).map(|l| on.contains(&l) as u8).collect() };
    let labels = [[row(&[0, 13]), row(&[])].concat(), row(&[2]), row(&[5, 6])];
    // Stored members this time.
    let bytes = medmnist_npz(1, 5, &labels, 14);
    let parts = medmnist::parse(&bytes, chest).unwrap();
    assert_eq!(parts.train.task, Task::MultiLabel);
    assert_eq!(parts.train.labels, vec![1 | 1 << 13, 0]);
    assert_eq!(parts.test.labels, vec![1 << 5 | 1 << 6]);
    assert_eq!(parts.train.class_names[13], "hernia");
    assert_eq!((parts.train.channels, parts.train.size), (1, 5));

    // Bad input: a missing key, a label out of range, counts that differ.
    let mut npzfile = Npz::parse(&bytes).unwrap();
    let e = err(npzfile.array("val_pixels"));
    assert!(
        e.contains("no array 'val_pixels'") && e.contains("train_images"),
        "{e}"
    );
    let bytes = npz(
        &[("train_images", npy("|u1", &[1, 2, 2], &[0; 4]))],
        CompressionMethod::Stored,
    );
    let e = err(medmnist::parse(
        &bytes,
        medmnist::info("breastmnist").unwrap(),
    ));
    assert!(e.contains("no array 'train_labels'"), "{e}");
    let bytes = medmnist_npz(1, 4, &[vec![0, 2], vec![1], vec![0]], 1);
    let e = err(medmnist::parse(
        &bytes,
        medmnist::info("breastmnist").unwrap(),
    ));
    assert!(e.contains("label 2 of image 1 is out of range"), "{e}");
    let mut members = vec![
        ("train_images", npy("|u1", &[2, 2, 2], &[0; 8])),
        ("train_labels", npy("|u1", &[3, 1], &[0; 3])),
    ];
    members.push(("val_images", members[0].1.clone()));
    let e = err(medmnist::parse(
        &npz(&members, CompressionMethod::Stored),
        medmnist::info("breastmnist").unwrap(),
    ));
    assert!(e.contains("2 images but labels of shape [3, 1]"), "{e}");
    let empty = npz(
        &[
            ("train_images", npy("|u1", &[1, 0, 0], &[])),
            ("train_labels", npy("|u1", &[1, 1], &[0])),
        ],
        CompressionMethod::Stored,
    );
    let e = err(medmnist::parse(
        &empty,
        medmnist::info("breastmnist").unwrap(),
    ));
    assert!(e.contains("at least one pixel"), "{e}");
    let e = err(medmnist::parse(b"not a zip at all", path));
    assert!(e.contains("not a valid .npz archive"), "{e}");
}

/// A breastmnist-style npz whose three splits each hold the gray 2x2 image `image` of dtype
/// `descr` (little-endian bytes), labelled 0.
fn npz_of_image(descr: &str, image: &[u8]) -> Vec<u8> {
    let (image, label) = (npy(descr, &[1, 2, 2], image), npy("|u1", &[1, 1], &[0]));
    let members = [
        ("train_images", image.clone()),
        ("train_labels", label.clone()),
        ("val_images", image.clone()),
        ("val_labels", label.clone()),
        ("test_images", image),
        ("test_labels", label),
    ];
    npz(&members, CompressionMethod::Stored)
}

/// Float pixels read the same from an `.npz` as from an IDX file: 0..=1 scaled by 255, 0..=255
/// as they are, anything else refused with the range found and the ranges expected.
#[test]
fn float_pixels_follow_one_rule_in_every_format() {
    let breast = medmnist::info("breastmnist").unwrap();
    let label = Idx::parse(&idx(&[1], &[0])).unwrap();
    // Through the IDX reader (big-endian) and the MedMNIST reader (little-endian).
    let from_idx = |code: u8, be: Vec<u8>| {
        idx::dataset(
            Idx::parse(&idx_typed(code, &[1, 2, 2], &be))?,
            label.clone(),
            &["a"],
        )
        .map(|d| d.images)
    };
    let from_npz = |descr: &str, le: Vec<u8>| {
        medmnist::parse(&npz_of_image(descr, &le), breast).map(|p| p.train.images)
    };
    let f32s = |v: [f32; 4]| {
        let be: Vec<u8> = v.iter().flat_map(|x| x.to_be_bytes()).collect();
        let le: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        (be, le)
    };
    let f64s = |v: [f64; 4]| {
        let be: Vec<u8> = v.iter().flat_map(|x| x.to_be_bytes()).collect();
        let le: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        (be, le)
    };

    let (be, le) = f32s([0.0, 0.25, 0.5, 1.0]);
    assert_eq!(from_idx(0x0D, be).unwrap(), vec![0, 64, 128, 255]);
    assert_eq!(from_npz("<f4", le).unwrap(), vec![0, 64, 128, 255]);
    let (be, le) = f64s([0.0, 0.25, 0.5, 1.0]);
    assert_eq!(from_idx(0x0E, be).unwrap(), vec![0, 64, 128, 255]);
    assert_eq!(from_npz("<f8", le).unwrap(), vec![0, 64, 128, 255]);
    // Past 1, floats are taken as 0..=255 and rounded.
    let (be, le) = f32s([0.0, 1.4, 127.6, 255.0]);
    assert_eq!(from_idx(0x0D, be).unwrap(), vec![0, 1, 128, 255]);
    assert_eq!(from_npz("<f4", le).unwrap(), vec![0, 1, 128, 255]);

    // Out of range: the message gives the range found and the ranges expected.
    let expected = "expected floats in 0..=1 (scaled by 255) or in 0..=255";
    let (be, le) = f32s([-0.5, 0.0, 0.5, 300.0]);
    for e in [err(from_idx(0x0D, be)), err(from_npz("<f4", le))] {
        assert!(
            e.contains("pixel values range from -0.5 to 300") && e.contains(expected),
            "{e}"
        );
    }
    let (be, le) = f64s([0.0, f64::NAN, 0.5, 1.0]);
    for e in [err(from_idx(0x0E, be)), err(from_npz("<f8", le))] {
        assert!(e.contains("pixel 1 is NaN") && e.contains(expected), "{e}");
    }
    let e = err(from_npz(
        "<i2",
        [-3i16, 0, 7, 256].map(i16::to_le_bytes).concat(),
    ));
    assert!(
        e.contains("pixel values range from -3 to 256; expected integers in 0..=255"),
        "{e}"
    );
}

/// `bytes` with the `u32` at `offset` into its first zip central directory entry set to `value`
/// (20: compressed size, 24: size).
fn forge_zip(bytes: &[u8], offset: usize, value: u32) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = out.windows(4).position(|w| w == b"PK\x01\x02").unwrap() + offset;
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
    out
}

#[test]
fn forged_sizes_are_refused_before_allocating() {
    // A zip member whose sizes claim 4 GB in a 200-byte archive.
    let stored = npz(
        &[("a", npy("|u1", &[2, 3], &[0; 6]))],
        CompressionMethod::Stored,
    );
    let forged = forge_zip(&forge_zip(&stored, 20, 0xFFFF_FFF0), 24, 0xFFFF_FFF0);
    let e = err(Npz::parse(&forged).and_then(|mut z| z.array("a")));
    assert!(
        e.contains("declares 4294967280 compressed bytes but the archive holds"),
        "{e}"
    );
    let deflated = npz(
        &[("a", npy("|u1", &[2, 3], &[0; 6]))],
        CompressionMethod::Deflated,
    );
    let e = err(Npz::parse(&forge_zip(&deflated, 24, 0xFFFF_FFF0)).and_then(|mut z| z.array("a")));
    assert!(e.contains("more than its"), "{e}");
    // Shapes whose value count overflows, even when a zero dimension makes them empty.
    for shape in [
        [0, 1 << 62, 1 << 62],
        [1 << 62, 1 << 62, 0],
        [1 << 40, 1 << 40, 1],
    ] {
        let e = err(parse_npy(&npy("|u1", &shape, &[])));
        assert!(e.contains("holds more values than memory can"), "{e}");
    }
}

#[test]
fn idx_reads_raw_and_gzip() {
    let data: Vec<u8> = (0..2 * 3 * 3).map(|i| i as u8).collect();
    let raw = idx(&[2, 3, 3], &data);
    for bytes in [raw.clone(), gzip(&raw)] {
        let idx = Idx::parse(&bytes).unwrap();
        assert_eq!(idx.dims, vec![2, 3, 3]);
        assert_eq!(idx.data, data);
    }
    let labels = Idx::parse(&idx(&[2], &[1, 0])).unwrap();
    let set = idx::dataset(Idx::parse(&raw).unwrap(), labels, &["a", "b"]).unwrap();
    assert_eq!((set.len(), set.size, set.image(1)[0]), (2, 3, 9));
}

#[test]
fn bad_idx_gives_clear_errors() {
    let err = |b: &[u8]| Idx::parse(b).unwrap_err().to_string();
    let raw = idx(&[2, 3, 3], &[7; 18]);
    assert!(err(&raw[..raw.len() - 1]).contains("truncated"));
    assert!(err(&gzip(&raw[..raw.len() - 1])).contains("truncated"));
    assert!(err(&[0x12, 0x34, 8, 1]).contains("not an IDX file"));
    assert!(err(&[0, 0, 0x42, 1, 0, 0, 0, 1]).contains("unknown IDX type"));
    assert!(err(&[0, 0, 8]).contains("shorter than"));
    // An absurd declared size is refused before anything is allocated.
    let huge = idx(&[0xffff_ffff, 0xffff, 0xff], &[1, 2, 3]);
    assert!(err(&idx(&[u32::MAX; 4], &[])).contains("overflow"));
    assert!(err(&huge).contains("truncated"), "{}", err(&huge));
    assert!(err(&gzip(&huge)).contains("more than the compressed file can hold"));
    let mut long = raw.clone();
    long.push(0);
    assert!(err(&long).contains("more than"));
    let images = Idx::parse(&raw).unwrap();
    let bad_label = idx::dataset(
        images.clone(),
        Idx::parse(&idx(&[2], &[0, 5])).unwrap(),
        &["a", "b"],
    );
    assert!(bad_label
        .unwrap_err()
        .to_string()
        .contains("label 5 of image 1 is out of range"));
    let count = idx::dataset(
        images,
        Idx::parse(&idx(&[3], &[0, 1, 0])).unwrap(),
        &["a", "b"],
    );
    assert!(count.unwrap_err().to_string().contains("3 labels"));
}
