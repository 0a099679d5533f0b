// classify.js: the image page, for any image classifier in the models
// directory (MobileNetV2, transfer-learning heads, ...): a photo from a file,
// a drop, a paste or the camera, resized as the model was trained, read by
// the engine in the worker.
import {EngineClient} from './engine-client.js';
import {api, clearError, el, listModels, param, percent, renderModelPanel, renderProbabilities, setStatus, showError, state} from './common.js';
import {applyPreprocessing, labelled, resizeArea, topK} from './preprocess.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const client = new EngineClient();
let model = null;
let stream = null;
let generation = 0;

// (h, w) source channel to (oh, ow) as tf.image.resize bilinear (half-pixel centres)
function resizeBilinear(src, w, h, ow, oh) {
  const dst = new Float32Array(ow * oh);
  const sy = h / oh, sx = w / ow;
  for (let y = 0; y < oh; y++) {
    const fy = Math.min(h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(h - 1, y0 + 1), dy = fy - y0;
    for (let x = 0; x < ow; x++) {
      const fx = Math.min(w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(w - 1, x0 + 1), dx = fx - x0;
      const top = src[y0 * w + x0] * (1 - dx) + src[y0 * w + x1] * dx;
      const bot = src[y1 * w + x0] * (1 - dx) + src[y1 * w + x1] * dx;
      dst[y * ow + x] = top * (1 - dy) + bot * dy;
    }
  }
  return dst;
}

function resizeNearest(src, w, h, ow, oh) {
  const dst = new Float32Array(ow * oh);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++)
      dst[y * ow + x] = src[Math.min(h - 1, Math.floor((y + 0.5) * h / oh)) * w + Math.min(w - 1, Math.floor((x + 0.5) * w / ow))];
  return dst;
}

// An image source (img, video, canvas) to the model's raw (h, w, c) input, 0..255.
function toInput(source, sw, sh) {
  const [oh, ow, oc] = model.info.input_shape;
  const c = el('canvas', {width: sw, height: sh});
  const g = c.getContext('2d', {willReadFrequently: true});
  g.drawImage(source, 0, 0, sw, sh);
  const {data} = g.getImageData(0, 0, sw, sh);
  const method = model.info.resize || 'bilinear';
  const planes = [];
  for (let ch = 0; ch < 3; ch++) {
    const p = new Float32Array(sw * sh);
    for (let i = 0; i < p.length; i++) p[i] = data[4 * i + ch];
    planes.push(p);
  }
  if (oc === 1) {
    // ITU-R 601 luma, as libjpeg and libpng convert colour to gray
    const p = new Float32Array(sw * sh);
    for (let i = 0; i < p.length; i++) p[i] = 0.299 * planes[0][i] + 0.587 * planes[1][i] + 0.114 * planes[2][i];
    planes.splice(0, 3, p);
  }
  const out = new Float32Array(oh * ow * oc);
  planes.forEach((p, ch) => {
    const r =
      method === 'area' ? resizeArea(p, sw, {x: 0, y: 0, w: sw, h: sh}, ow, oh)
      : method === 'nearest' ? resizeNearest(p, sw, sh, ow, oh)
      : resizeBilinear(p, sw, sh, ow, oh);
    for (let i = 0; i < ow * oh; i++) out[i * oc + ch] = r[i];
  });
  return out;
}

async function classify(source, sw, sh, what) {
  if (!model) return;
  const gen = generation;
  try {
    const raw = toInput(source, sw, sh);
    const x = applyPreprocessing(raw, model.info.preprocessing);
    setStatus(`reading ${what}…`, true);
    const {output, ms} = await client.predict(model.name, x, 1);
    if (gen !== generation) return;
    const items = labelled(output, model.classes);
    const best = topK(items, 1)[0];
    $('prediction').textContent = best.label;
    $('confidence').textContent = `${percent(best.p)} sure · ${ms.toFixed(1)} ms in WebAssembly`;
    renderProbabilities($('probabilities'), items.length <= 10 ? items : topK(items, 5));
    state.lastInput = Array.from(raw);
    state.lastProbabilities = Array.from(output);
    state.predictions = (state.predictions || 0) + 1;
    setStatus(`ready · read ${what}`);
  } catch (e) {
    showError(e);
  }
}

function showPhoto(node) {
  const box = $('photo');
  box.replaceChildren(node);
}

async function fromFile(file) {
  if (!file) return;
  if (!/^image\//.test(file.type)) {
    showError(`${file.name}: not an image (${file.type || 'unknown type'})`);
    return;
  }
  stopCamera();
  clearError();
  let bmp;
  try {
    bmp = await createImageBitmap(file);
  } catch {
    showError(`${file.name}: the browser cannot decode this image`);
    return;
  }
  const c = el('canvas', {width: bmp.width, height: bmp.height, class: 'photo'});
  c.getContext('2d').drawImage(bmp, 0, 0);
  showPhoto(c);
  await classify(bmp, bmp.width, bmp.height, file.name);
}

function stopCamera() {
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null;
  $('snap').hidden = true;
}

async function startCamera() {
  clearError();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError('this browser gives no camera to this page (a camera needs https or localhost)');
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment'}, audio: false});
  } catch (e) {
    showError(`no camera: ${e.message}`);
    return;
  }
  const v = el('video', {autoplay: true, playsinline: true, muted: true});
  v.srcObject = stream;
  showPhoto(v);
  $('snap').hidden = false;
  $('snap').onclick = () => classify(v, v.videoWidth, v.videoHeight, 'the camera');
  // live: read a frame whenever the last reading is done
  const loop = async () => {
    if (!stream || !v.isConnected) return;
    if (v.videoWidth) await classify(v, v.videoWidth, v.videoHeight, 'the camera');
    setTimeout(loop, 100);
  };
  v.addEventListener('loadeddata', loop, {once: true});
}

async function useModel(name) {
  const gen = ++generation;
  model = null;
  clearError();
  setStatus(`loading ${name}…`, true);
  try {
    const info = await api(`/api/models/${encodeURIComponent(name)}`);
    if (info.kind !== 'image' && info.kind !== 'drawing')
      throw new Error(`model '${name}' does not classify images (its input is (${info.input_shape.join(', ')}))`);
    document.title = `${info.title || name} · mlexp`;
    $('title').textContent = info.title || name;
    renderModelPanel($('model-panel'), info);
    const t0 = performance.now();
    await client.load(name, `/models/${encodeURIComponent(name)}/`);
    if (gen !== generation) return;
    const n = info.output_shape[info.output_shape.length - 1];
    model = {name, info, classes: info.classes || Array.from({length: n}, (_, i) => `class ${i}`)};
    state.model = name;
    setStatus(`ready · ${name} loaded in ${Math.round(performance.now() - t0)} ms · choose a photo`);
  } catch (e) {
    if (gen === generation) showError(e);
  }
}

async function main() {
  let models;
  try {
    models = (await listModels()).filter((m) => m.kind === 'image');
  } catch (e) {
    showError(e);
    return;
  }
  const wanted = param('model') || (models[0] || {}).name;
  if (!wanted) {
    showError('no image models here. Put one in the models directory: a TF.js image classifier, ' +
      'a model trained by `mlexp train rps_transfer`, or `node tests/tfjs/mobilenet_v2.js models/mobilenet_v2`.');
    return;
  }
  const select = $('model-select');
  select.replaceChildren(...models.map((m) => el('option', {value: m.name, text: m.title ? `${m.title} (${m.name})` : m.name})));
  if (!models.some((m) => m.name === wanted)) select.append(el('option', {value: wanted, text: wanted}));
  select.value = wanted;
  select.addEventListener('change', () => {
    history.replaceState(null, '', `?model=${encodeURIComponent(select.value)}`);
    useModel(select.value);
  });
  $('upload').addEventListener('change', (e) => fromFile(e.target.files[0]));
  $('camera').addEventListener('click', startCamera);
  const drop = $('photo');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    fromFile(e.dataTransfer.files[0]);
  });
  document.addEventListener('paste', (e) => {
    const f = [...(e.clipboardData || {files: []}).files].find((x) => x.type.startsWith('image/'));
    if (f) fromFile(f);
  });
  await useModel(wanted);
}

main();
