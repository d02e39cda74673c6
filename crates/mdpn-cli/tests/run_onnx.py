"""Runs an exported MDPN ONNX model with ONNX Runtime on raw uint8 images and prints the class
probabilities as JSON. Usage: run_onnx.py MODEL.onnx PIXELS.u8 N C H W"""
import json
import sys

import numpy as np
import onnxruntime as ort

model, pixels, n, c, h, w = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
images = np.fromfile(pixels, dtype=np.uint8).reshape(n, c, h, w)
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
# Batches of 10 keep the (N, C, M, 25, S, S) synapse tensors (the formulas graph) small.
probabilities = np.concatenate(
    [session.run(["probabilities"], {"image": images[i : i + 10]})[0] for i in range(0, n, 10)]
)
print(json.dumps(probabilities.astype(float).tolist()))
