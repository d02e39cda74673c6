"""The program's tools from Python: ``prune``, ``quantize``, ``study`` and ``inspect``, run by
the program's own code in this process, writing what the program writes."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import _mdpn

prune = _mdpn.prune
quantize = _mdpn.quantize


def _options(**options):
    """``--key value`` pairs of the options that are set (``True`` flags alone)."""
    args = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, str(value)]
    return args


def summary_table(rows):
    """Rows of ``summary.json`` as a table: a dict of NumPy arrays, one per column (numbers a
    model lacks, such as a baseline's int8 size, are NaN). ``pandas.DataFrame`` reads it."""
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
          stale_after=1800, **recipe):
    """Runs ``mdpn study`` with these options and returns its summary as a table.

    ``datasets`` are names or folders; ``ablate`` maps an MDPN setting to its values
    (``{"dendrites": [8, 16], "synapse": ["sigmoid"]}`` is ``--ablate dendrites=8,16
    --ablate synapse=sigmoid``); the keyword arguments left (``recipe="tuned"``,
    ``weight_decay=1e-4``, ``shift=1``, ...) are the program's recipe options. The study folder
    ``out`` is the program's: run folders, ``summary.md``/``.csv``/``.json``, ``figures/``,
    ``report.html``; calling it again resumes it. The summary (``summary.json``) comes back as
    a dict of NumPy arrays, one per column. Ctrl-C stops after the current epoch, its
    checkpoint saved, and raises ``KeyboardInterrupt``.
    """
    if isinstance(datasets, (str, os.PathLike)):
        datasets = [datasets]
    args = ["study"] + _options(
        datasets=[str(d) for d in datasets], data_dir=data_dir, models=list(models),
        baseline_params=list(baseline_params) or None, runs=runs, first_seed=first_seed,
        epochs=epochs, batch_size=batch_size, lr=lr, protocol=protocol,
        val_fraction=val_fraction, limit=limit, out=out, worker=worker,
        stale_after=stale_after, **recipe)
    for key, values in (ablate or {}).items():
        if isinstance(values, (str, int, float)):
            values = [values]
        args += ["--ablate", f"{key}={','.join(str(v) for v in values)}"]
    _mdpn.run_command(args)
    summary = Path(out) / "summary.json"
    if not summary.is_file():
        # A worker that finished before the others: the last one writes the summary.
        return None
    return summary_table(json.loads(summary.read_text()))


def inspect(model, *, out=None, dataset=None, data_dir=None, images=(), examples=3,
            tolerance=0.05):
    """Runs ``mdpn inspect`` on ``model`` (a model file's path, or an :class:`mdpn.Model`,
    which is first saved as ``out/model.safetensors``) and returns the report's folder.

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
    model = Path(model)
    args = ["inspect", str(model)] + _options(
        dataset=dataset, data_dir=data_dir, examples=examples, tolerance=tolerance, out=out)
    for image in images:
        args += ["--image", str(image)]
    _mdpn.run_command(args)
    return Path(out) if out is not None else model.with_name(f"inspect-{model.stem}")
