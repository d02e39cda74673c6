"""The data sets the ``mdpn`` program knows, read from the same files in the same look-up order
(``--data-dir`` and its ``<name>/``, ``$MDPN_DATA/<name>/``, ``./data/<name>/``,
``~/.cache/mdpn/<name>/``, ``/usr/share/datasets/<name>``), and the program's splits."""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np

from . import _mdpn


@dataclass
class Dataset:
    """A data set as NumPy arrays. Images are ``uint8``, ``(N, H, W)`` (gray) or
    ``(N, C, H, W)``; labels are class indices (``int64``), or for a multi-label set 0/1 per
    label ``(N, classes)``. ``x_val``/``y_val`` hold the set's official validation split, if it
    has one (MedMNIST, FER2013)."""

    name: str
    folder: Path
    class_names: List[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: Optional[np.ndarray] = None
    y_val: Optional[np.ndarray] = None
    mean: float = 0.0
    std: float = 1.0
    multi_label: bool = False


def load(name: str = "fashion-mnist", data_dir=None) -> Dataset:
    """Reads a data set as ``mdpn train --dataset NAME [--data-dir DIR]`` does: a known name
    (``mdpn datasets`` lists them), a folder of MNIST-style IDX files, or an image folder.
    The package never downloads: a missing known set raises ``ValueError`` saying where it was
    looked for (``mdpn download NAME`` fetches it).
    ``mean`` and ``std`` are the normalisation the authors used for the set."""
    d = _mdpn.load_dataset(str(name), data_dir=None if data_dir is None else str(data_dir))
    return Dataset(**d)


def split(n_train: int, n_test: int, seed: int = 0, protocol: str = "holdout",
          val_fraction: float = 0.1):
    """The index arrays ``(train, validation, test)`` that ``mdpn train --seed SEED --protocol
    PROTOCOL`` uses: ``holdout`` draws validation from the training set, ``paper`` draws 3,000
    test images for validation (the authors' split)."""
    return _mdpn.split(n_train, n_test, seed=seed, protocol=protocol,
                       val_fraction=val_fraction)
