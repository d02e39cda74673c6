#!/usr/bin/env python3
"""Writes the small valid seed inputs (`seed-*`) of the data set fuzz targets into
fuzz/regressions/<target>/. Run from the repository root: python3 fuzz/seeds.py"""
import gzip, io, os, struct, zipfile


def put(target, name, data):
    os.makedirs(f"fuzz/regressions/{target}", exist_ok=True)
    open(f"fuzz/regressions/{target}/seed-{name}", "wb").write(data)


def idx(dims, data, code=8):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def npy(shape, descr, data, version=1):
    dims = "".join(f"{d}, " if len(shape) == 1 else f"{d}," for d in shape).rstrip(",")
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}"
    pre = 10 if version == 1 else 12
    text += " " * (-(pre + len(text) + 1) % 64) + "\n"
    size = struct.pack("<H", len(text)) if version == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + size + text.encode() + bytes(data)


def zipped(members, method=zipfile.ZIP_DEFLATED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


images = idx([2, 4, 4], range(32))
# idx_dataset: mode byte (EMNIST split index, or 6 for a plain data set), images length, files.
for mode, name in [(0, "byclass"), (3, "letters"), (6, "plain")]:
    put("idx_dataset", name, bytes([mode]) + struct.pack("<H", len(images)) + images + idx([2], [1, 2]))

for split, code, labels in [(4, "digits", [3, 7]), (3, "letters", [1, 26])]:
    members = {}
    for part in ["train", "test"]:
        members[f"gzip/emnist-{code}-{part}-images-idx3-ubyte.gz"] = gzip.compress(images)
        members[f"gzip/emnist-{code}-{part}-labels-idx1-ubyte.gz"] = gzip.compress(idx([2], labels))
    put("emnist_zip", code, bytes([split]) + zipped(members))

pixels = bytes(i % 256 for i in range(3072))
put("cifar10", "two-records", bytes([3]) + pixels + bytes([9]) + pixels)
put("cifar100", "fine", bytes([0]) + bytes([1, 99]) + pixels + bytes([19, 0]) + pixels)
put("cifar100", "coarse", bytes([1]) + bytes([1, 99]) + pixels)

row = " ".join(str(i % 10) for i in range(48 * 48))
put("fer2013", "three-rows", (
    "emotion,pixels,Usage\n"
    f"0,{row},Training\n3,\"{row}\",PublicTest\n6,{row},PrivateTest\n").encode())

put("npy", "u1", npy((2, 3), "|u1", range(6)))
put("npy", "f4", npy((2,), "<f4", struct.pack("<2f", 1.5, -2.0)))
put("npy", "i8-big-v2", npy((3,), ">i8", struct.pack(">3q", 1, -2, 3), version=2))
put("npy", "b1-scalar", npy((), "|b1", [1]))

put("npz", "deflated", zipped({"a.npy": npy((2, 3), "|u1", range(6)), "b.npy": npy((2,), "<f8", bytes(16))}))
put("npz", "stored", zipped({"x.npy": npy((4,), "<i2", bytes(8))}, zipfile.ZIP_STORED))


def medmnist(gray, labels_shape, labels):
    members = {}
    shape = (2, 4, 4) if gray else (2, 4, 4, 3)
    for split in ["train", "val", "test"]:
        members[f"{split}_images.npy"] = npy(shape, "|u1", bytes(i % 256 for i in range(32 if gray else 96)))
        members[f"{split}_labels.npy"] = npy(labels_shape, "<i8", struct.pack(f"<{len(labels)}q", *labels))
    return zipped(members)


put("medmnist", "pathmnist", bytes([0]) + medmnist(False, (2, 1), [0, 8]))
put("medmnist", "chestmnist", bytes([1]) + medmnist(True, (2, 14), [1, 0] * 14))
put("medmnist", "octmnist", bytes([3]) + medmnist(True, (2, 1), [3, 1]))
