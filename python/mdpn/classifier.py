"""``MDPNClassifier``: MDPN as a scikit-learn estimator, trained by the ``mdpn`` engine with
the semantics of ``mdpn train`` (same seed, same settings: the same metrics and model)."""

import sys
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from . import _mdpn


class MDPNClassifier(ClassifierMixin, BaseEstimator):
    """An MDPN image classifier.

    ``X`` holds images: ``(N, H, W)``, ``(N, C, H, W)``, or flat rows ``(N, H*W)`` /
    ``(N, C*H*W)`` with ``image_shape=(H, W)`` or ``(C, H, W)`` (as in a ``Pipeline``).
    ``fit`` takes ``uint8`` pixels; ``predict``/``predict_proba`` also take float arrays, taken
    as already normalised (``(pixel/255 - mean)/std``) and run by the plain kernel. Labels may
    be any values; ``classes_`` holds them sorted.

    Validation: ``fit(X, y, X_val, y_val)``, or without them ``validation_fraction`` of ``X``
    held out as ``mdpn train`` does for ``seed``. The model kept (``model_``, an
    :class:`mdpn.Model`) is the one with the best validation accuracy; ``history_`` holds one
    dict per epoch. Training shows progress on stderr (``verbose``), runs on ``threads`` threads
    (default all cores) without holding the GIL, and Ctrl-C stops it after the current batch
    (``KeyboardInterrupt``). With ``out``, ``fit`` writes the run folder of ``mdpn train``
    there (``config.json``, ``metrics.csv``, the best and last models, the checkpoint).
    """

    def __init__(self, dendrites=50, epochs=50, batch_size=64, lr=1e-3, seed=0, *,
                 hidden=128, window=5, pool=4, k=10.0, c=0.6, mean=0.0, std=1.0,
                 validation_fraction=0.1, image_shape=None, kernel="fast", threads=None,
                 verbose=True, out=None):
        self.dendrites = dendrites
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.hidden = hidden
        self.window = window
        self.pool = pool
        self.k = k
        self.c = c
        self.mean = mean
        self.std = std
        self.validation_fraction = validation_fraction
        self.image_shape = image_shape
        self.kernel = kernel
        self.threads = threads
        self.verbose = verbose
        self.out = out

    def _images(self, X):
        X = np.asarray(X)
        if X.ndim == 2:
            if self.image_shape is None:
                raise ValueError(
                    f"X has shape {X.shape}: flat rows need image_shape=(H, W) or (C, H, W)")
            shape = tuple(int(d) for d in self.image_shape)
            if int(np.prod(shape)) != X.shape[1]:
                raise ValueError(
                    f"X has {X.shape[1]} values per row, image_shape {shape} needs "
                    f"{int(np.prod(shape))}")
            X = X.reshape((X.shape[0],) + shape)
        return X

    def _labels(self, y, n, what):
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(f"{what} has shape {y.shape}; expected one label per image ({n},)")
        return y

    def fit(self, X, y, X_val=None, y_val=None):
        X = self._images(X)
        y = self._labels(y, X.shape[0], "y")
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y holds {len(self.classes_)} class; MDPN needs at least 2")
        val = {}
        if (X_val is None) != (y_val is None):
            raise ValueError("give both X_val and y_val, or neither")
        if X_val is not None:
            X_val = self._images(X_val)
            y_val = self._labels(y_val, X_val.shape[0], "y_val")
            at = np.searchsorted(self.classes_, y_val).clip(0, len(self.classes_) - 1)
            unknown = self.classes_[at] != y_val
            if unknown.any():
                raise ValueError(f"y_val holds labels not in y: {np.unique(y_val[unknown])}")
            val = dict(x_val=X_val, y_val=at.astype(np.int64))
        progress = _Progress(self.epochs) if self.verbose else None
        self.model_, self.last_model_, self.history_ = _mdpn.fit(
            X, encoded.astype(np.int64), [str(c) for c in self.classes_],
            validation_fraction=self.validation_fraction, epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr, seed=self.seed, dendrites=self.dendrites,
            hidden=self.hidden, window=self.window, pool=self.pool, k=self.k, c=self.c,
            mean=self.mean, std=self.std, kernel=self.kernel, threads=self.threads,
            on_batch=progress.batch if progress else None,
            on_epoch=progress.epoch if progress else None,
            out=None if self.out is None else str(self.out), **val)
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        return self

    def predict_proba(self, X):
        """Class probabilities ``(N, len(classes_))``, float32."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._images(X), threads=self.threads)

    def predict(self, X):
        """The most probable label of each image."""
        check_is_fitted(self, "model_")
        return self.classes_[self.model_.predict(self._images(X), threads=self.threads)]


class _Progress:
    """A one-line progress bar per epoch on stderr, then a summary line like ``mdpn train``'s."""

    def __init__(self, epochs):
        self.epochs = epochs
        self.start = time.monotonic()
        self.shown = 0.0

    def batch(self, epoch, batch, batches, images, loss, accuracy):
        if batch == 1:
            self.start, self.seen = time.monotonic(), 0
        self.seen += images
        now = time.monotonic()
        if now - self.shown < 0.1 and batch < batches:
            return
        self.shown = now
        done = int(30 * batch / batches)
        rate = self.seen / max(now - self.start, 1e-9)
        sys.stderr.write(f"\repoch {epoch}/{self.epochs} [{'=' * done}{' ' * (30 - done)}] "
                         f"{batch}/{batches} loss {loss:.4f} acc {100 * accuracy:.2f}% "
                         f"{rate:.0f} img/s")
        sys.stderr.flush()

    def epoch(self, r):
        val = (f"  val loss {r['val_loss']:.4f} acc {100 * r['val_accuracy']:.2f}%"
               if "val_loss" in r else "")
        sys.stderr.write(f"\repoch {r['epoch']:>3}/{self.epochs}  train loss {r['train_loss']:.4f}"
                         f" acc {100 * r['train_accuracy']:.2f}%{val}  {r['seconds']:.1f}s "
                         f"({r['images_per_second']:.0f} img/s)\x1b[K\n")
        sys.stderr.flush()
