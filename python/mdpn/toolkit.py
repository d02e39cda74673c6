"""The program's tools from Python: ``prune``, ``quantize``, ``study`` and ``inspect``, run by
the same library code as the program, in this process, writing what the program writes."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import _mdpn

prune = _mdpn.prune
quantize = _mdpn.quantize


def summary_table(rows):
    """Rows of ``summary.json`` as a table: a dict of NumPy arrays, one per column (numbers a
    model lacks, such as the AUC of a set without one, are NaN). ``pandas.DataFrame`` reads it."""
    columns = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, None)
    table = {}
    for key in columns:
        values = [row.get(key) for row in rows]
        if all(isinstance(v, (int, float)) or v is None for v in values) and \
                any(v is not None for v in values):
            if any(v is None or isinstance(v, float) for v in values):
                table[key] = np.array([np.nan if v is None else v for v in values], dtype=float)
            else:
                table[key] = np.array(values, dtype=np.int64)
        elif all(isinstance(v, str) for v in values):
            table[key] = np.array(values)
        else:
            table[key] = np.array(values, dtype=object)
    return table


def study(datasets, *, out="studies/study", runs=5, epochs=50, models=("mdpn", "mlp", "cnn"),
          ablate=None, baseline_params=(), first_seed=0, batch_size=64, lr=1e-3,
          protocol="holdout", val_fraction=0.1, limit=None, data_dir=None, worker=False,
          stale_after=1800, recipe="paper", schedule=None, warmup=None, weight_decay=None,
          label_smoothing=None, clip_grad_norm=None, shift=None, flip=None, erase=None,
          init_w_std=None):
    """Trains a study as ``mdpn study`` does, with its options, and returns its summary as a
    table.

    ``datasets`` are names or folders; ``models`` are ``"mdpn"``, ``"mlp"``, ``"cnn"``;
    ``ablate`` maps an MDPN setting to its values (``{"dendrites": [8, 16], "synapse":
    ["sigmoid"]}`` is ``--ablate dendrites=8,16 --ablate synapse=sigmoid``); ``recipe``
    (``"paper"`` or ``"tuned"``) and the options after it change the training recipe as the
    program's options of the same names do. The study folder ``out`` is the program's: run
    folders, ``summary.md``/``.csv``/``.json``, ``figures/``, ``report.html``; calling it again
    resumes it. The summary (``summary.json``) comes back as a dict of NumPy arrays, one per
    column (``pandas.DataFrame`` reads it); ``None`` for a worker that left runs to others.
    Ctrl-C stops after the current epoch, its checkpoint saved, and raises
    ``KeyboardInterrupt``.
    """
    if isinstance(datasets, (str, os.PathLike)):
        datasets = [datasets]
    ablations = []
    for key, values in (ablate or {}).items():
        if isinstance(values, (str, int, float)):
            values = [values]
        ablations.append(f"{key}={','.join(str(v) for v in values)}")
    finished = _mdpn.study(
        [str(d) for d in datasets], out=str(out), runs=runs, epochs=epochs,
        models=list(models), ablate=ablations, baseline_params=list(baseline_params),
        first_seed=first_seed, batch_size=batch_size, lr=lr, protocol=protocol,
        val_fraction=val_fraction, limit=limit,
        data_dir=None if data_dir is None else str(data_dir), worker=worker,
        stale_after=stale_after, recipe=recipe, schedule=schedule, warmup=warmup,
        weight_decay=weight_decay, label_smoothing=label_smoothing,
        clip_grad_norm=clip_grad_norm, shift=shift, flip=flip, erase=erase,
        init_w_std=init_w_std)
    if not finished:
        # A worker that finished before the others: the last one writes the summary.
        return None
    return summary_table(json.loads((Path(out) / "summary.json").read_text()))


def inspect(model, *, out=None, dataset=None, data_dir=None, images=(), examples=3,
            tolerance=0.05):
    """Writes the report of ``mdpn inspect`` on ``model`` (a model file's path, or an
    :class:`mdpn.Model`, which is first saved as ``out/model.safetensors``) and returns the
    report's folder (``out``, by default ``inspect-<name>`` beside the model file).

    It writes what the program writes: ``report.html``, the pictures, ``synapses.csv``,
    ``state_counts.csv``, ``dendrite_states.csv``, ``images.csv`` and ``saliency.csv`` (the
    images followed: ``images``, PNG or JPEG files, else the first ``examples`` test images of
    ``dataset``) and, with ``dataset``, ``importance.csv``.
    """
    if isinstance(model, _mdpn.Model):
        if out is None:
            raise ValueError("give out= to inspect a model that is not in a file")
        Path(out).mkdir(parents=True, exist_ok=True)
        path = Path(out) / "model.safetensors"
        model.save(str(path))
        model = path
    folder = _mdpn.inspect(
        str(model), out=None if out is None else str(out), dataset=dataset,
        data_dir=None if data_dir is None else str(data_dir),
        images=[str(i) for i in images], examples=examples, tolerance=tolerance)
    return Path(folder)
