// draw.js: the drawing page. Draw with mouse, touch or pen (Pointer Events),
// and the model in the worker reads the drawing as you draw.
import {EngineClient} from './engine-client.js';
import {api, clearError, el, listModels, param, percent, renderModelPanel, renderProbabilities, setStatus, showError, state} from './common.js';
import {SIDE, applyPreprocessing, labelled, mnistFromInk} from './preprocess.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const canvas = $('draw-canvas');
const ctx = canvas.getContext('2d', {willReadFrequently: true});
const preview = $('input-preview');
const pctx = preview.getContext('2d');
const BRUSH = 20; // in canvas pixels (280 wide): about MNIST's stroke width once scaled

const client = new EngineClient();
let model = null; // {name, info, classes}
let strokes = []; // [[{x, y}, ...], ...] in canvas pixels
let current = null;
let shown = null; // a gallery example shown instead of a drawing
let busy = false, again = false, generation = 0;

// ---- drawing ----

const CAPTION = 'what the model sees: cropped to the ink, scaled to 20x20, centred by mass in 28x28, like MNIST';

function paint() {
  if (!shown) $('seen-caption').textContent = CAPTION;
  state.drawn = (state.drawn || 0) + 1; // tests wait until state.predicted catches up
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (shown) {
    const img = ctx.createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
      const v = shown.pixels[i];
      img.data.set([v, v, v, 255], 4 * i);
    }
    const tmp = el('canvas', {width: SIDE, height: SIDE});
    tmp.getContext('2d').putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
    return;
  }
  ctx.strokeStyle = '#fff';
  ctx.fillStyle = '#fff';
  ctx.lineWidth = BRUSH;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  for (const s of strokes) {
    if (s.length === 1) {
      ctx.beginPath();
      ctx.arc(s[0].x, s[0].y, BRUSH / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(s[0].x, s[0].y);
    for (let i = 1; i < s.length; i++) ctx.lineTo(s[i].x, s[i].y);
    ctx.stroke();
  }
}

function point(e) {
  const r = canvas.getBoundingClientRect();
  return {x: ((e.clientX - r.left) * canvas.width) / r.width, y: ((e.clientY - r.top) * canvas.height) / r.height};
}

canvas.addEventListener('pointerdown', (e) => {
  if (e.button !== 0 && e.pointerType === 'mouse') return;
  e.preventDefault();
  canvas.setPointerCapture(e.pointerId);
  if (shown) {
    shown = null;
    $('gallery-note').textContent = '';
  }
  current = [point(e)];
  strokes.push(current);
  state.lastPointerType = e.pointerType;
  paint();
  schedule();
});
canvas.addEventListener('pointermove', (e) => {
  if (!current) return;
  e.preventDefault();
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const c of events.length ? events : [e]) current.push(point(c));
  paint();
  schedule();
});
for (const type of ['pointerup', 'pointercancel'])
  canvas.addEventListener(type, () => {
    if (!current) return;
    current = null;
    schedule();
  });

$('clear').addEventListener('click', () => {
  strokes = [];
  shown = null;
  $('gallery-note').textContent = '';
  paint();
  schedule();
});
$('undo').addEventListener('click', () => {
  if (shown) shown = null;
  else strokes.pop();
  paint();
  schedule();
});
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === 'z') $('undo').click();
});

// ---- reading ----

// the 28x28 raw image the model will see: a gallery example, or the drawing
function currentInput() {
  if (shown) return Float32Array.from(shown.pixels);
  if (!strokes.length) return null;
  const {data, width, height} = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = data[4 * i];
  return mnistFromInk(ink, width, height);
}

function showPreview(x) {
  const img = pctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = x ? x[i] : 0;
    img.data.set([v, v, v, 255], 4 * i);
  }
  pctx.putImageData(img, 0, 0);
}

function showNothing() {
  $('prediction').textContent = '–';
  $('confidence').textContent = 'draw something';
  renderProbabilities($('probabilities'), labelled(new Float32Array(model.classes.length), model.classes), {highlight: false});
  state.lastInput = null;
  state.lastProbabilities = null;
  showPreview(null);
}

// live prediction: at most one request in flight, the latest drawing wins
function schedule() {
  if (!model) return;
  if (busy) {
    again = true;
    return;
  }
  requestAnimationFrame(predict);
}

async function predict() {
  if (!model) return;
  const gen = generation;
  const version = state.drawn;
  const raw = currentInput();
  if (!raw) {
    showNothing();
    state.predicted = version;
    return;
  }
  busy = true;
  try {
    const x = applyPreprocessing(raw, model.info.preprocessing);
    const {output, ms} = await client.predict(model.name, x, 1);
    if (gen !== generation) return;
    const items = labelled(output, model.classes);
    const best = items.reduce((a, b) => (b.p > a.p ? b : a));
    $('prediction').textContent = best.label;
    $('confidence').textContent = `${percent(best.p)} sure · ${ms.toFixed(1)} ms in WebAssembly`;
    renderProbabilities($('probabilities'), items);
    showPreview(raw);
    state.lastInput = Array.from(raw);
    state.lastProbabilities = Array.from(output);
    state.predictions = (state.predictions || 0) + 1;
    state.predicted = version;
  } catch (e) {
    showError(e);
  } finally {
    busy = false;
    if (again) {
      again = false;
      schedule();
    }
  }
}

// ---- the gallery of real test images ----

async function loadGallery(name) {
  const box = $('gallery');
  box.replaceChildren();
  // 24 images spread over the whole test set (test sets are often sorted by class)
  const examples = [];
  try {
    const url = (count, offset) => `/api/models/${encodeURIComponent(name)}/examples?count=${count}&offset=${offset}`;
    const first = await api(url(1, 0));
    const total = first.total;
    const n = Math.min(24, total);
    const picks = Array.from({length: n}, (_, i) => Math.floor((i * total) / n));
    examples.push(...(await Promise.all(picks.map((k) => api(url(1, k))))).map((j) => j.examples[0]));
  } catch {
    $('gallery-section').hidden = true; // the dataset is not on this machine
    return;
  }
  $('gallery-section').hidden = false;
  for (const ex of examples) {
    const c = el('canvas', {width: SIDE, height: SIDE, class: 'thumb'});
    const img = c.getContext('2d').createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) img.data.set([ex.pixels[i], ex.pixels[i], ex.pixels[i], 255], 4 * i);
    c.getContext('2d').putImageData(img, 0, 0);
    const b = el('button', {class: 'example', title: `test image ${ex.index}: ${ex.label}`, 'data-label': ex.label, 'data-index': ex.index}, c, el('span', {text: ex.label}));
    b.addEventListener('click', () => {
      strokes = [];
      shown = ex;
      $('gallery-note').textContent = `test image #${ex.index}, labelled “${ex.label}”`;
      $('seen-caption').textContent = 'what the model sees: the test image itself, as the model was trained on such images';
      paint();
      schedule();
    });
    box.append(b);
  }
}

// ---- models ----

async function useModel(name) {
  const gen = ++generation;
  clearError();
  setStatus(`loading ${name}…`, true);
  model = null;
  document.body.classList.add('loading');
  try {
    const info = await api(`/api/models/${encodeURIComponent(name)}`);
    if (info.kind !== 'drawing')
      throw new Error(`model '${name}' does not read 28x28 drawings (its input is (${info.input_shape.join(', ')})); try /classify.html?model=${name}`);
    document.title = `${info.title || name} · mlexp`;
    $('title').textContent = info.title || name;
    renderModelPanel($('model-panel'), info);
    const t0 = performance.now();
    await client.load(name, `/models/${encodeURIComponent(name)}/`);
    if (gen !== generation) return;
    const classes = info.classes || Array.from({length: info.output_shape[info.output_shape.length - 1]}, (_, i) => String(i));
    model = {name, info, classes};
    state.model = name;
    setStatus(`ready · ${name} loaded in ${Math.round(performance.now() - t0)} ms`);
    document.body.classList.remove('loading');
    loadGallery(name);
    schedule();
  } catch (e) {
    if (gen === generation) showError(e);
  }
}

async function main() {
  paint();
  let models = [];
  try {
    models = (await listModels()).filter((m) => m.kind === 'drawing');
  } catch (e) {
    showError(e);
    return;
  }
  const select = $('model-select');
  const wanted = param('model') || (models.find((m) => m.name === 'digits_cnn') || models[0] || {}).name;
  if (!wanted) {
    showError('no drawing models found: start mlexp serve with --models pointing at trained models');
    return;
  }
  select.replaceChildren(...models.map((m) => el('option', {value: m.name, text: m.title ? `${m.title} (${m.name})` : m.name})));
  if (!models.some((m) => m.name === wanted)) select.append(el('option', {value: wanted, text: wanted}));
  select.value = wanted;
  select.addEventListener('change', () => {
    history.replaceState(null, '', `?model=${encodeURIComponent(select.value)}`);
    strokes = [];
    shown = null;
    paint();
    useModel(select.value);
  });
  await useModel(wanted);
}

main();
