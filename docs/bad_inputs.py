#!/usr/bin/env python3
"""Regenerates the table of docs/bad-inputs.md: writes each bad input into a temporary folder,
runs the real `mdpn` program on it and prints a Markdown row with the exit status and the exact
message. Run from the repository root after `cargo build --release`:
    python3 docs/bad_inputs.py > /tmp/table.md
"""
import gzip, json, os, shutil, struct, subprocess, sys, tempfile

MDPN = os.path.abspath("target/release/mdpn")
FASHION = "/usr/share/datasets/fashion-mnist"
tmp = tempfile.mkdtemp()
env = dict(os.environ, MDPN_NO_APT="1")


def idx(dims, data, code=8):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def dataset(name, n_train=200, n_test=50, edit=None):
    """A folder with the first images of Fashion-MNIST; `edit(files)` changes the bytes."""
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    files = {}
    for prefix, n in [("train", n_train), ("t10k", n_test)]:
        im = gzip.open(f"{FASHION}/{prefix}-images-idx3-ubyte.gz").read()
        lb = gzip.open(f"{FASHION}/{prefix}-labels-idx1-ubyte.gz").read()
        files[f"{prefix}-images-idx3-ubyte"] = idx([n, 28, 28], im[16:16 + 784 * n])
        files[f"{prefix}-labels-idx1-ubyte"] = idx([n], lb[8:8 + n])
    if edit:
        edit(files)
    for f, b in files.items():
        open(os.path.join(folder, f), "wb").write(b)
    return folder


def run(args, env_extra=None):
    p = subprocess.run([MDPN] + args, capture_output=True, text=True, cwd=tmp,
                       env=dict(env, **(env_extra or {})))
    msg = p.stderr.strip().splitlines()
    msg = [l for l in msg if l.strip()]
    return p.returncode, (msg[-1] if msg else "(none: it trains)").replace(tmp + "/", "")


rows = []


def row(what, args, **kw):
    code, msg = run(args, **kw)
    assert "panicked" not in msg, msg
    rows.append(f"| {what} | {code} | `{msg}` |")


good = dataset("good")
tiny = ["--epochs", "1", "--dendrites", "2", "--hidden", "8"]
row("train run that works, for the files below", ["train", "--dataset", good, "--out", "run"] + tiny)
rows.pop()
# IDX data sets
def trunc(f): f["train-images-idx3-ubyte"] = f["train-images-idx3-ubyte"][:-100]
def magic(f): f["train-images-idx3-ubyte"] = b"\x12\x34" + f["train-images-idx3-ubyte"][2:]
def code(f): f["train-labels-idx1-ubyte"] = b"\0\0\x42" + f["train-labels-idx1-ubyte"][3:]
def huge(f): f["train-images-idx3-ubyte"] = idx([0xFFFFFFFF, 0xFFFF, 0xFF], b"abc")
def overflow(f): f["train-images-idx3-ubyte"] = idx([0xFFFFFFFF] * 4, b"")
def zipbomb(f):
    del f["train-images-idx3-ubyte"]
    f["train-images-idx3-ubyte.gz"] = gzip.compress(idx([60000, 2800, 2800], b"x" * 10))
def gz_trunc(f):
    del f["train-images-idx3-ubyte"]
    f["train-images-idx3-ubyte.gz"] = gzip.compress(f_images_bytes)[:-50]
def extra(f): f["t10k-labels-idx1-ubyte"] += b"\0"
def short(f): f["train-images-idx3-ubyte"] = b"\0\0"
def label(f):
    b = bytearray(f["train-labels-idx1-ubyte"]); b[20] = 200; f["train-labels-idx1-ubyte"] = bytes(b)
def count(f): f["train-labels-idx1-ubyte"] = idx([199], f["train-labels-idx1-ubyte"][8:-1])
def nonsquare(f): f["train-images-idx3-ubyte"] = idx([200, 28, 14], f["train-images-idx3-ubyte"][16:16 + 200 * 392])
def labels3d(f): f["train-labels-idx1-ubyte"] = idx([200, 1, 1], f["train-labels-idx1-ubyte"][8:])
def f32(f): f["train-images-idx3-ubyte"] = idx([50, 28, 7], f["train-images-idx3-ubyte"][16:16 + 50 * 784], code=0x0D)
def missing(f): del f["t10k-labels-idx1-ubyte"]
def one_class(f): f["train-labels-idx1-ubyte"] = idx([200], bytes([200] * 200))
def f32_range(f):
    f["train-images-idx3-ubyte"] = idx([200, 28, 28], struct.pack(">2f", -1, 300) + bytes(4 * (200 * 784 - 2)), code=0x0D)
f_images_bytes = gzip.open(f"{FASHION}/train-images-idx3-ubyte.gz").read()[:16 + 784 * 200]
f_images_bytes = idx([200, 28, 28], f_images_bytes[16:])
for name, edit, what in [
    ("trunc", trunc, "IDX images file cut short by 100 bytes"),
    ("gztrunc", gz_trunc, "gzipped IDX file cut short"),
    ("magic", magic, "IDX file whose first bytes are not 0 0"),
    ("code", code, "IDX file with unknown type code 0x42"),
    ("short", short, "IDX file of 2 bytes"),
    ("huge", huge, "IDX header declaring 4 billion x 65535 x 255 images, 3 bytes of data"),
    ("overflow", overflow, "IDX header whose dimensions overflow 64 bits"),
    ("zipbomb", zipbomb, "gzipped IDX declaring 470 GB, 60 bytes compressed"),
    ("extra", extra, "IDX labels file with a byte more than declared"),
    ("label", label, "one training label 200 in a folder of IDX files whose other labels are 0..=9"),
    ("count", count, "199 labels for 200 images"),
    ("nonsquare", nonsquare, "28x14 images"),
    ("labels3d", labels3d, "labels file with 3 dimensions"),
    ("f32", f32, "50 images stored as f32 (type 0x0D), 200 labels"),
    ("missing", missing, "data folder without t10k-labels-idx1-ubyte"),
]:
    row(what, ["train", "--dataset", dataset(name, edit=edit), "--out", "run-" + name] + tiny)
row("unknown data set name", ["train", "--dataset", "no-such-set"])
row("window larger than the images", ["train", "--dataset", good, "--window", "40", "--out", "w"])
row("validation fraction 1.5", ["train", "--dataset", good, "--val-fraction", "1.5", "--out", "v"])
row("learning rate 1e30 (training diverges)", ["train", "--dataset", good, "--lr", "1e30", "--out", "div"] + tiny[2:])

# Other data set formats: each row puts files in a folder given as --data-dir.
import io, zipfile


def data_row(what, dataset_name, files):
    folder = os.path.join(tmp, "d-" + str(len(rows)))
    os.makedirs(folder)
    for f, b in files.items():
        os.makedirs(os.path.dirname(os.path.join(folder, f)), exist_ok=True)
        open(os.path.join(folder, f), "wb").write(b)
    row(what, ["train", "--dataset", dataset_name, "--data-dir", folder, "--out", "run-d"] + tiny)


def zipped(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def npy(shape, descr, data):
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)}, }}"
    text += " " * (-(11 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode() + bytes(data)


record = bytes(3073)
cifar10 = {f"cifar-10-batches-bin/{f}": record * 2 for f in
           ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
            "data_batch_5.bin", "test_batch.bin"]}
data_row("CIFAR-10 batch file cut short", "cifar10",
         dict(cifar10, **{"cifar-10-batches-bin/data_batch_3.bin": record[:3000]}))
data_row("CIFAR-10 label 10", "cifar10",
         dict(cifar10, **{"cifar-10-batches-bin/test_batch.bin": bytes([10]) + record[1:]}))
data_row("CIFAR-100 fine label 100", "cifar100",
         {"cifar-100-binary/train.bin": bytes([0, 100]) + bytes(3072),
          "cifar-100-binary/test.bin": bytes(3074)})
pixels = " ".join(["0"] * 2304)
fer = lambda rows_: {"fer2013.csv": ("emotion,pixels,Usage\n" + "".join(rows_)).encode()}
good_fer = [f"0,{pixels},Training\n", f"1,{pixels},PublicTest\n", f"2,{pixels},PrivateTest\n"]
data_row("FER2013 CSV row of 100 pixels", "fer2013",
         fer(good_fer + ["3," + " ".join(["0"] * 100) + ",Training\n"]))
data_row("FER2013 CSV with emotion 9", "fer2013", fer(good_fer + [f"9,{pixels},Training\n"]))
data_row("FER2013 CSV without a Usage column", "fer2013",
         {"fer2013.csv": f"emotion,pixels\n0,{pixels}\n".encode()})
data_row("FER2013 CSV without PrivateTest rows", "fer2013", fer(good_fer[:2]))
emnist_files = {}
for part in ["train", "test"]:
    emnist_files[f"gzip/emnist-digits-{part}-images-idx3-ubyte.gz"] = gzip.compress(idx([2, 28, 28], bytes(1568)))
    emnist_files[f"gzip/emnist-digits-{part}-labels-idx1-ubyte.gz"] = gzip.compress(idx([2], bytes(2)))
data_row("EMNIST gzip.zip without the test labels", "emnist-digits",
         {"gzip.zip": zipped({k: v for k, v in emnist_files.items() if "test-labels" not in k})})
bomb = bytearray(zipped(emnist_files))
at = bomb.find(b"PK\x01\x02")  # the first central directory entry: its uncompressed size
bomb[at + 24:at + 28] = struct.pack("<I", 0xFFFFFFF0)
data_row("EMNIST gzip.zip whose member declares 4 GB", "emnist-digits", {"gzip.zip": bytes(bomb)})
letters = {}
for part in ["train", "test"]:
    letters[f"emnist-letters-{part}-images-idx3-ubyte"] = idx([2, 28, 28], bytes(1568))
    letters[f"emnist-letters-{part}-labels-idx1-ubyte"] = idx([2], bytes([1, 0]))
data_row("EMNIST letters label 0 (letters run 1..=26)", "emnist-letters", letters)
med = {}
for split in ["train", "val", "test"]:
    med[f"{split}_images.npy"] = npy([2, 28, 28], "|u1", bytes(1568))
    med[f"{split}_labels.npy"] = npy([2, 1], "<i8", bytes(16))
data_row("MedMNIST .npz without val_labels", "octmnist",
         {"octmnist.npz": zipped({k: v for k, v in med.items() if k != "val_labels.npy"})})
data_row("MedMNIST array declaring 2 billion images, holding 2", "octmnist",
         {"octmnist.npz": zipped(dict(med, **{"train_images.npy": npy([2 ** 31, 28, 28], "|u1", bytes(1568))}))})
data_row("MedMNIST array whose shape overflows", "octmnist",
         {"octmnist.npz": zipped(dict(med, **{"train_images.npy": npy([0, 2 ** 62, 2 ** 62], "|u1", b"")}))})
data_row("MedMNIST gray set given RGB images", "octmnist",
         {"octmnist.npz": zipped(dict(med, **{"train_images.npy": npy([2, 28, 28, 3], "|u1", bytes(4704))}))})
data_row("MedMNIST label 1.5 (f8)", "octmnist",
         {"octmnist.npz": zipped(dict(med, **{"test_labels.npy": npy([2, 1], "<f8", struct.pack("<2d", 1.5, 0))}))})
data_row("MedMNIST .npz that is not a zip archive", "octmnist", {"octmnist.npz": b"not a zip" * 10})

# Classes and pixel ranges of folders of IDX files, float MedMNIST images, image folder sizes
for name, edit, what in [
    ("oneclass", one_class, "training labels all 200, test labels 0..=9"),
    ("f32range", f32_range, "IDX images stored as f32, from -1 to 300"),
]:
    row(what, ["train", "--dataset", dataset(name, edit=edit), "--out", "run-" + name] + tiny)
data_row("MedMNIST images stored as f4, from 0 to 1000", "octmnist",
         {"octmnist.npz": zipped(dict(med, **{"train_images.npy": npy([2, 28, 28], "<f4", struct.pack("<f", 1000) + bytes(4 * 1567))}))})
row("--classes 5 for a folder of IDX files with labels 0..=9",
    ["train", "--dataset", good, "--classes", "5", "--out", "c5"] + tiny)
row("--classes 1", ["train", "--dataset", good, "--classes", "1", "--out", "c1"] + tiny)


def png(path, side):
    """A gray PNG of side x side pixels, written without an imaging library."""
    import zlib
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    rows_ = b"".join(b"\0" + bytes(range(side)) for _ in range(side))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(rows_)) + chunk(b"IEND", b""))


folder = os.path.join(tmp, "pictures")
for c in ["a", "b"]:
    for i in range(5):
        png(os.path.join(folder, c, f"{i}.png"), 20 + i)
row("image folder with --image-size 0", ["train", "--dataset", folder, "--image-size", "0", "--out", "p0"] + tiny)
row("image folder with --image-size 5000", ["train", "--dataset", folder, "--image-size", "5000", "--out", "p5k"] + tiny)

# Model files
subprocess.run([MDPN, "train", "--dataset", good, "--out", "run"] + tiny, capture_output=True, cwd=tmp, env=env)
model = open(os.path.join(tmp, "run/model.safetensors"), "rb").read()
n = struct.unpack("<Q", model[:8])[0]
header = json.loads(model[8:8 + n])


def st(h, body):
    t = json.dumps(h).encode()
    t += b" " * (-len(t) % 8)
    return struct.pack("<Q", len(t)) + t + body


def model_row(what, data, extra=()):
    path = os.path.join(tmp, "m.safetensors")
    open(path, "wb").write(data)
    row(what, ["eval", "--model", "m.safetensors", "--dataset", good] + list(extra))


body = model[8 + n:]
model_row("model file of 5 bytes (`hello`)", b"hello")
model_row("model file cut in half", model[: len(model) // 2])
model_row("empty model file", b"")
h = json.loads(json.dumps(header)); h["__metadata__"]["format_version"] = "7"
model_row("model file from format version 7", st(h, body))
h = json.loads(json.dumps(header)); h["__metadata__"]["format"] = "other"
model_row("model file of an unknown format", st(h, body))
h = json.loads(json.dumps(header)); c = json.loads(h["__metadata__"]["config"]); c["dendrites"] = 9
h["__metadata__"]["config"] = json.dumps(c)
model_row("model file whose config says 9 dendrites, tensors hold 2", st(h, body))
h = json.loads(json.dumps(header)); c = json.loads(h["__metadata__"]["config"])
c["image_size"] = 2 ** 40
h["__metadata__"]["config"] = json.dumps(c)
model_row("model file whose config declares 2^40-pixel-wide images", st(h, body))
h = json.loads(json.dumps(header)); h["model.3.fc.b"] = h.pop("model.3.fc.bias")
model_row("model file without tensor model.3.fc.bias", st(h, body))
h = json.loads(json.dumps(header)); h["model.3.fc.bias"]["dtype"] = "I32"
model_row("model file with an I32 tensor", st(h, body))
h = json.loads(json.dumps(header)); h["__metadata__"]["config"] = "{not json"
model_row("model file with invalid config JSON", st(h, body))
h = json.loads(json.dumps(header)); h["__metadata__"]["class_names"] = '["a"]'
model_row("model file naming 1 class, configured for 10", st(h, body))
h = json.loads(json.dumps(header)); del h["__metadata__"]
model_row("state dict (no metadata) with --image-size 40", st(h, body), ["--image-size", "40"])
h2 = json.loads(json.dumps(h)); h2["model.0.params.w"]["shape"] = [2, 25]
h2["model.0.params.q"]["shape"] = [2, 25]
model_row("state dict whose model.0.params.w is 2x25", st(h2, body))
flipped = bytearray(model); flipped[8 + n + len(body) // 2] ^= 0x10
model_row("model file with one bit flipped in a tensor", bytes(flipped))
h = json.loads(json.dumps(header)); h["__metadata__"]["tensors_crc32"] = "not hex!"
model_row("model file whose checksum is not 8 hex digits", st(h, body))
ck = open(os.path.join(tmp, "run/checkpoint.safetensors"), "rb").read()
model_row("a checkpoint given as --model", ck)
# Microcontrollers: int8 models only, in integers only
row("export of an f32 model to C", ["export", "run/model.safetensors", "--format", "c", "--out", "c-out"])
run(["quantize", "run/model.safetensors", "--dataset", good, "--out", "int8.safetensors"])
row("--mean given with an int8 model", ["eval", "--model", "int8.safetensors", "--dataset", good, "--mean", "0.5"])
row("model file that does not exist", ["eval", "--model", "nowhere.safetensors", "--dataset", good])
open(os.path.join(tmp, "x.png"), "wb").write(b"GIF89a nonsense")
row("predict on a file that is not an image", ["predict", "--model", "run/model.safetensors", "x.png"])

# Checkpoints and resume
def resume_row(what, data, extra=()):
    d = os.path.join(tmp, "r")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(tmp, "run"), d)
    path = os.path.join(d, "checkpoint.safetensors")
    if data is None:
        os.remove(path)
    else:
        open(path, "wb").write(data)
    row(what, ["train", "--dataset", good, "--resume", "r"] + tiny + list(extra))


cn = struct.unpack("<Q", ck[:8])[0]
ch = json.loads(ck[8:8 + cn])
resume_row("--resume on a run without checkpoint.safetensors", None)
resume_row("checkpoint cut in half", ck[: len(ck) // 2])
h = json.loads(json.dumps(ch)); h["__metadata__"]["format_version"] = "2"
resume_row("checkpoint from format version 2", st(h, ck[8 + cn:]))
resume_row("a model file given as checkpoint", model)
h = json.loads(json.dumps(ch)); h["adam.v.model.2.fc.w"] = h.pop("adam.v.model.2.fc.weight")
resume_row("checkpoint without Adam's second moment of model.2.fc.weight", st(h, ck[8 + cn:]))
h = json.loads(json.dumps(ch)); del h["adam.v.model.2.fc.weight"]
resume_row("checkpoint with a tensor's header entry removed", st(h, ck[8 + cn:]))
flipped = bytearray(ck); flipped[8 + cn + (len(ck) - 8 - cn) // 2] ^= 0x10
resume_row("checkpoint with one bit flipped in a tensor", bytes(flipped))
resume_row("--resume with another --lr and --seed", ck, ["--lr", "0.01", "--seed", "3"])
row("a new run into a folder that holds one", ["train", "--dataset", good, "--out", "run"] + tiny)
# Studies
row("a study of the baselines on a multi-label set (ChestMNIST)",
    ["study", "--datasets", "chestmnist", "--models", "mdpn,mlp", "--out", "s"])

print("| bad input | exit status | what the user sees (last line of stderr) |")
print("|---|---|---|")
print("\n".join(rows))
shutil.rmtree(tmp)
