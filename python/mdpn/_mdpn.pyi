"""Type stubs of the native part of the ``mdpn`` package (``mdpn._mdpn``), for editors."""

from os import PathLike
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, PathLike]
_Images = npt.NDArray[Any]  # uint8 pixels or float32/float64 normalised values

class Model:
    """An MDPN model (f32 or int8) with NumPy in and out."""

    @property
    def config(self) -> Dict[str, Any]: ...
    @property
    def class_names(self) -> List[str]: ...
    @property
    def parameter_count(self) -> int: ...
    def predict_proba(self, x: _Images, *, threads: Optional[int] = None) -> npt.NDArray[np.float32]: ...
    def predict(self, x: _Images, *, threads: Optional[int] = None) -> npt.NDArray[Any]: ...
    def logits(self, x: _Images, *, threads: Optional[int] = None) -> npt.NDArray[np.float32]: ...
    def membrane(self, x: _Images, *, threads: Optional[int] = None) -> npt.NDArray[np.float32]: ...
    def dendrites(self, x: _Images, *, threads: Optional[int] = None) -> npt.NDArray[np.float32]: ...
    def synapse_states(self, tolerance: float = 0.05) -> Dict[str, npt.NDArray[Any]]: ...
    def dendrite_importance(self, x: npt.NDArray[np.uint8], y: npt.NDArray[np.int64]) -> Dict[str, Any]: ...
    def saliency(self, x: _Images, classes: Optional[Sequence[int]] = None) -> npt.NDArray[np.float32]: ...
    def export_onnx(self, path: _Path) -> None: ...
    def export_c(self, out: _Path) -> None: ...
    def export_rust(self, out: _Path) -> None: ...
    def state_dict(self) -> Dict[str, npt.NDArray[np.float32]]: ...
    @staticmethod
    def from_state_dict(
        tensors: Mapping[str, Any],
        *,
        image_size: Optional[int] = None,
        mean: Optional[float] = None,
        std: Optional[float] = None,
        class_names: Optional[List[str]] = None,
    ) -> "Model": ...
    def save(self, path: _Path) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(bytes: bytes) -> "Model": ...

def load(
    path: _Path,
    *,
    image_size: Optional[int] = None,
    mean: Optional[float] = None,
    std: Optional[float] = None,
) -> Model: ...
def prune(
    model: Model,
    x_val: npt.NDArray[np.uint8],
    y_val: npt.NDArray[np.int64],
    *,
    x_train: Optional[npt.NDArray[np.uint8]] = None,
    y_train: Optional[npt.NDArray[np.int64]] = None,
    tolerance: float = 0.05,
    max_drop: Optional[float] = None,
    fine_tune: Optional[int] = None,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    samples: int = 10000,
) -> Tuple[Model, Dict[str, Any]]: ...
def quantize(
    model: Model, x: npt.NDArray[np.uint8], *, source: Optional[str] = None, weight_bits: int = 8
) -> Model: ...
def study(
    datasets: List[str],
    *,
    out: str,
    runs: int,
    epochs: int,
    models: List[str],
    ablate: List[str],
    baseline_params: List[int],
    first_seed: int,
    batch_size: int,
    lr: float,
    protocol: str,
    val_fraction: float,
    limit: Optional[int],
    data_dir: Optional[str],
    worker: bool,
    stale_after: int,
    recipe: str,
    schedule: Optional[str],
    warmup: Optional[float],
    weight_decay: Optional[float],
    label_smoothing: Optional[float],
    clip_grad_norm: Optional[float],
    shift: Optional[int],
    flip: Optional[bool],
    erase: Optional[float],
    init_w_std: Optional[float],
) -> bool: ...
def inspect(
    model: str,
    *,
    out: Optional[str],
    dataset: Optional[str],
    data_dir: Optional[str],
    images: List[str],
    examples: int,
    tolerance: float,
) -> PathLike[str]: ...
def fit(
    x: npt.NDArray[np.uint8],
    y: npt.NDArray[np.int64],
    class_names: List[str],
    **options: Any,
) -> Tuple[Model, Model, List[Dict[str, Any]]]: ...
def load_dataset(name: str, *, data_dir: Optional[str] = None) -> Dict[str, Any]: ...
def split(
    n_train: int, n_test: int, *, seed: int = 0, protocol: str = "holdout", val_fraction: float = 0.1
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
