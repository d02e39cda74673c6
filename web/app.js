// The page: draw or drop an image, see the model's top classes and its dendrite maps.
// URL parameters: `model=URL` opens another model file than the default one; `test=URL`
// classifies that image, times it, and writes the result as JSON into <pre id="result"> (the
// headless-browser test reads it there).

const DEFAULT_MODEL = "models/fashion-mnist-int8.safetensors";
const EXAMPLE_IMAGE = "img/ankle-boot.png";
const TOP_K = 5;
const TIMING_RUNS = 100;
// Colour scale of the dendrite maps, low to high (viridis).
const SCALE = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const draw = $("draw");
const pen = draw.getContext("2d", { willReadFrequently: true });

let Classifier = null;
let classifier = null;
// The image shown: RGBA pixels of any size, as the browser decoded or drew them.
let current = null;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

async function fetchBytes(url, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`cannot fetch the ${what} ${url}: ${e.message}`);
  }
  if (!response.ok) {
    throw new Error(`cannot fetch the ${what} ${url}: HTTP ${response.status} ${response.statusText}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

// Opens a model file's bytes; on an error the model in use stays.
function openModel(bytes, name) {
  let next;
  try {
    next = new Classifier(bytes);
  } catch (e) {
    throw new Error(`${name}: ${e.message}`);
  }
  classifier?.free();
  classifier = next;
  const colour = next.channels === 1 ? "gray" : "RGB";
  const trained = next.dataset ? `, trained on ${next.dataset}` : "";
  $("model-info").textContent =
    `${name}: ${next.imageSize}×${next.imageSize} ${colour} images, ` +
    `${next.dendrites} dendrites, ${next.classNames.length} classes${trained}.`;
}

// Decodes an image file as it is, without colour management, into RGBA pixels.
async function decode(blob, name) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch {
    throw new Error(`${name} is not a readable PNG or JPEG image`);
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  return { rgba: new Uint8Array(data.buffer), width: bitmap.width, height: bitmap.height, bitmap };
}

function classify(image) {
  const pixels = classifier.pixels(image.rgba, image.width, image.height);
  const probabilities = classifier.probabilities(pixels);
  const maps = classifier.dendriteMaps(pixels);
  return { pixels, probabilities, maps };
}

function topClasses(probabilities) {
  const names = classifier.classNames;
  return Array.from(probabilities, (p, c) => ({ class: c, name: names[c], probability: p }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, TOP_K);
}

function showTop(probabilities) {
  $("top").replaceChildren(
    ...topClasses(probabilities).map((t) => {
      const li = document.createElement("li");
      li.textContent = `${t.name}: ${(100 * t.probability).toFixed(2)}%`;
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = `${(100 * t.probability).toFixed(1)}%`;
      li.append(bar);
      return li;
    }),
  );
}

// The model's input, planes (channel, row, column), drawn at its own size.
function showSeen(pixels) {
  const side = classifier.imageSize;
  const seen = $("seen");
  seen.width = seen.height = side;
  const image = new ImageData(side, side);
  const plane = side * side;
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < 3; ch++) {
      image.data[4 * i + ch] = pixels[(classifier.channels === 1 ? 0 : ch * plane) + i];
    }
    image.data[4 * i + 3] = 255;
  }
  seen.getContext("2d").putImageData(image, 0, 0);
}

function colour(t) {
  const x = Math.min(Math.max(t, 0), 1) * (SCALE.length - 1);
  const i = Math.min(Math.floor(x), SCALE.length - 2);
  const f = x - i;
  return SCALE[i].map((a, k) => a + f * (SCALE[i + 1][k] - a));
}

// The dendrite maps (C, S, S, M): one S×S picture per channel and dendrite, one colour scale.
function showMaps(maps) {
  const s = classifier.mapSide;
  const m = classifier.dendrites;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of maps) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi > lo ? hi - lo : 1;
  const pictures = [];
  for (let ch = 0; ch < classifier.channels; ch++) {
    for (let d = 0; d < m; d++) {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = s;
      canvas.title = `dendrite ${d + 1}` + (classifier.channels > 1 ? `, channel ${"RGB"[ch]}` : "");
      const image = new ImageData(s, s);
      for (let i = 0; i < s * s; i++) {
        const rgb = colour((maps[(ch * s * s + i) * m + d] - lo) / span);
        image.data.set([...rgb, 255], 4 * i);
      }
      canvas.getContext("2d").putImageData(image, 0, 0);
      pictures.push(canvas);
    }
  }
  $("map-grid").replaceChildren(...pictures);
  $("map-range").textContent = `${lo.toFixed(2)} to ${hi.toFixed(2)}.`;
}

function show(image) {
  current = image;
  const r = classify(image);
  showTop(r.probabilities);
  showSeen(r.pixels);
  showMaps(r.maps);
  return r;
}

function clearCanvas() {
  // Images are shown with their pixels, not smoothed.
  pen.imageSmoothingEnabled = false;
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, draw.width, draw.height);
}

function reset() {
  clearCanvas();
  current = null;
  for (const id of ["top", "map-grid"]) $(id).replaceChildren();
  $("map-range").textContent = "";
}

function canvasImage() {
  const { data } = pen.getImageData(0, 0, draw.width, draw.height);
  return { rgba: new Uint8Array(data.buffer), width: draw.width, height: draw.height };
}

async function openImage(blob, name) {
  const image = await decode(blob, name);
  clearCanvas();
  pen.drawImage(image.bitmap, 0, 0, draw.width, draw.height);
  show(image);
}

// Drawing: white strokes on black, like Fashion-MNIST; the canvas is classified as it changes.
function setUpDrawing() {
  let last = null;
  let pending = false;
  const at = (e) => {
    const box = draw.getBoundingClientRect();
    return [((e.clientX - box.left) * draw.width) / box.width, ((e.clientY - box.top) * draw.height) / box.height];
  };
  draw.addEventListener("pointerdown", (e) => {
    draw.setPointerCapture(e.pointerId);
    last = at(e);
  });
  draw.addEventListener("pointermove", (e) => {
    if (!last) return;
    const next = at(e);
    pen.strokeStyle = "#fff";
    pen.lineWidth = 22;
    pen.lineCap = pen.lineJoin = "round";
    pen.beginPath();
    pen.moveTo(...last);
    pen.lineTo(...next);
    pen.stroke();
    last = next;
    if (!pending && classifier) {
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        guard(() => show(canvasImage()));
      });
    }
  });
  const stop = () => {
    last = null;
  };
  draw.addEventListener("pointerup", stop);
  draw.addEventListener("pointercancel", stop);
}

async function guard(action) {
  try {
    clearError();
    await action();
  } catch (e) {
    showError(e.message);
  }
}

async function openFile(file) {
  if (file.name.endsWith(".safetensors")) {
    openModel(new Uint8Array(await file.arrayBuffer()), file.name);
    if (current) show(current);
  } else {
    await openImage(file, file.name);
  }
}

function setUpControls() {
  $("clear").addEventListener("click", reset);
  $("example").addEventListener("click", () =>
    guard(async () => openImage(new Blob([await fetchBytes(EXAMPLE_IMAGE, "image")]), EXAMPLE_IMAGE)),
  );
  for (const id of ["image-file", "model-file"]) {
    $(id).addEventListener("change", (e) => {
      const file = e.target.files[0];
      e.target.value = "";
      if (file) guard(() => openFile(file));
    });
  }
  document.addEventListener("dragover", (e) => {
    e.preventDefault();
    draw.classList.add("drop");
  });
  document.addEventListener("dragleave", () => draw.classList.remove("drop"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    draw.classList.remove("drop");
    const file = e.dataTransfer.files[0];
    if (file) guard(() => openFile(file));
  });
}

// Test mode: classify one image, time TIMING_RUNS classifications, and write it all as JSON.
async function runTest(url, modelUrl) {
  const image = await decode(new Blob([await fetchBytes(url, "image")]), url);
  clearCanvas();
  pen.drawImage(image.bitmap, 0, 0, draw.width, draw.height);
  const { probabilities } = show(image);
  const time = (work) => {
    const start = performance.now();
    for (let i = 0; i < TIMING_RUNS; i++) work();
    return (performance.now() - start) / TIMING_RUNS;
  };
  const msPerImage = time(() => classifier.probabilities(classifier.pixels(image.rgba, image.width, image.height)));
  const msPerMaps = time(() => classifier.dendriteMaps(classifier.pixels(image.rgba, image.width, image.height)));
  return {
    image: url,
    model: modelUrl,
    size: [image.width, image.height],
    class_names: classifier.classNames,
    probabilities: Array.from(probabilities),
    top: topClasses(probabilities),
    timing_runs: TIMING_RUNS,
    ms_per_image: msPerImage,
    ms_per_dendrite_maps: msPerMaps,
  };
}

function writeResult(value) {
  $("result").textContent = JSON.stringify(value);
}

async function main() {
  const modelUrl = params.get("model") ?? DEFAULT_MODEL;
  const testUrl = params.get("test");
  clearCanvas();
  try {
    let wasm;
    try {
      wasm = await import("./pkg/mdpn_wasm.js");
      await wasm.default();
    } catch (e) {
      throw new Error(`the page's WebAssembly did not load (build it with scripts/build-web.sh): ${e.message}`);
    }
    Classifier = wasm.Classifier;
    openModel(await fetchBytes(modelUrl, "model"), modelUrl);
    setUpDrawing();
    setUpControls();
    if (testUrl) await writeResult(await runTest(testUrl, modelUrl));
  } catch (e) {
    showError(e.message);
    $("model-info").textContent = "No model.";
    if (testUrl) await writeResult({ error: e.message });
  }
}

main();
