//! The image data sets MDPN is evaluated on. One module per file format turns the bytes of its
//! files into [`mdpn::Dataset`]s and opens no file (the fuzz targets feed them bytes);
//! [`registry`] lists the known sets, with their official files and checksums; [`locate`]
//! finds a known set's files on disk and [`load`] reads them, the same way for every front end;
//! [`datasets`] opens a set by name or folder and [`for_model`] for a model, split by protocol. Fetching a missing set (HTTP(S) downloads with
//! md5 checks, Debian's packages through apt) is behind the `network` feature, so that the
//! browser build, the fuzz targets and Python stay off the network.

#[cfg(feature = "network")]
pub mod apt;
pub mod cifar;
#[cfg(feature = "files")]
pub mod datasets;
pub mod decoded_image;
#[cfg(feature = "network")]
pub mod download;
pub mod emnist;
pub mod fer2013;
#[cfg(feature = "files")]
pub mod for_model;
pub mod idx;
pub mod load;
pub mod locate;
pub mod medmnist;
pub mod npy;
#[cfg(feature = "network")]
pub mod obtain;
pub mod pixels;
pub mod registry;
#[cfg(feature = "network")]
pub mod verify;

/// Fashion-MNIST's class names, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
