"""MDPN, the multi-dendritic pyramidal neuron image classifier (Zhang et al., IEEE TAI 2024),
from Python: the same engine as the ``mdpn`` program.

- ``mdpn.load(path)`` -> :class:`Model`: ``predict_proba``, ``predict``, ``logits``,
  ``membrane``, ``dendrites``, ``state_dict``, ``save``; ``Model.from_state_dict``; inside the
  neuron: ``synapse_states``, ``dendrite_importance``, ``saliency``; ``export_onnx``.
- ``mdpn.prune``, ``mdpn.quantize``: a pruned or int8 model, as ``mdpn prune`` and
  ``mdpn quantize`` make them.
- ``mdpn.study``, ``mdpn.inspect``: the program's studies and reports, the same folders.
- ``mdpn.MDPNClassifier``: a scikit-learn estimator (needs scikit-learn).
- ``mdpn.datasets.load(name)``: the data sets the program knows, as NumPy arrays.

Images are NumPy arrays ``(N, H, W)`` or ``(N, C, H, W)``: ``uint8`` arrays are raw pixels (the
8-bit table kernel), float arrays are already normalised values (the plain kernel).
"""

from ._mdpn import Model, load
from . import datasets
from .toolkit import inspect, prune, quantize, study

__all__ = ["Model", "load", "datasets", "prune", "quantize", "study", "inspect",
           "MDPNClassifier"]


def __getattr__(name):
    # The estimator imports scikit-learn, which the rest of the package does not need.
    if name == "MDPNClassifier":
        from .classifier import MDPNClassifier

        return MDPNClassifier
    raise AttributeError(f"module 'mdpn' has no attribute {name!r}")
