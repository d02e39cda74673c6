"""Type stubs of ``mdpn.toolkit``: the program's tools from Python."""

from os import PathLike
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

import numpy.typing as npt

from ._mdpn import Model, prune as prune, quantize as quantize

_Path = Union[str, PathLike]

def summary_table(rows: Sequence[Mapping[str, Any]]) -> Dict[str, npt.NDArray[Any]]: ...
def study(
    datasets: Union[_Path, Sequence[_Path]],
    *,
    out: _Path = ...,
    runs: int = ...,
    epochs: int = ...,
    models: Sequence[str] = ...,
    ablate: Optional[Mapping[str, Union[Sequence[Any], Any]]] = ...,
    baseline_params: Sequence[int] = ...,
    first_seed: int = ...,
    batch_size: int = ...,
    lr: float = ...,
    protocol: str = ...,
    val_fraction: float = ...,
    limit: Optional[int] = ...,
    data_dir: Optional[_Path] = ...,
    worker: bool = ...,
    stale_after: int = ...,
    recipe: str = ...,
    schedule: Optional[str] = ...,
    warmup: Optional[float] = ...,
    weight_decay: Optional[float] = ...,
    label_smoothing: Optional[float] = ...,
    clip_grad_norm: Optional[float] = ...,
    shift: Optional[int] = ...,
    flip: Optional[bool] = ...,
    erase: Optional[float] = ...,
    init_w_std: Optional[float] = ...,
) -> Optional[Dict[str, npt.NDArray[Any]]]: ...
def inspect(
    model: Union[_Path, Model],
    *,
    out: Optional[_Path] = ...,
    dataset: Optional[str] = ...,
    data_dir: Optional[_Path] = ...,
    images: Iterable[_Path] = ...,
    examples: int = ...,
    tolerance: float = ...,
) -> Path: ...
