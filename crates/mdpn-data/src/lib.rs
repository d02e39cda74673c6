//! The image data sets MDPN is evaluated on. One module per file format turns the bytes of its
//! files into [`mdpn::Dataset`]s and opens no file (the fuzz targets feed them bytes);
//! [`registry`] lists the known sets, with their official files and checksums; [`locate`]
//! finds a known set's files on disk and [`load`] reads them, the same way for every front end.
//! No network: downloading is the `mdpn` program's.

pub mod cifar;
pub mod decoded_image;
pub mod emnist;
pub mod fer2013;
pub mod idx;
pub mod load;
pub mod locate;
pub mod medmnist;
pub mod npy;
pub mod pixels;
pub mod registry;

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
