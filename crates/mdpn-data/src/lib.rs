//! The file formats of the image data sets MDPN is evaluated on, one module per format, each
//! turning the bytes of its files into [`mdpn::Dataset`]s. No file is opened here: the caller
//! reads the bytes (the `mdpn` program, the fuzz targets, the tests).

pub mod cifar;
pub mod emnist;
pub mod fer2013;
pub mod idx;
pub mod medmnist;
pub mod npy;
pub mod pixels;

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
