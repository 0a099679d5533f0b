// playground.js: the playground page. A small network trains live on 2-D
// toy data in the page's worker (the C engine in WebAssembly): the page
// sends the settings and the data once, then asks for a few steps, the
// engine's losses and accuracies (mx_test_batch) and the output over a grid
// each frame, and draws them. Only static files are fetched (the engine);
// nothing is computed on a server.
import {EngineClient} from './engine-client.js';
import {clearError, curveChart, el, percent, setStatus, showError, state} from './common.js';
import {ACTIVATIONS, FEATURES, LIMITS, OPTIMIZERS, gridInputs, kerasConfig, optimizerConfig, tensors} from './playnet.js';
import {DATASETS, EXTENT, makeData} from './toydata.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const KEY = 'playground'; // the worker's name for the network
const POINTS = 400; // in the data set, split into training and test data
const GRID = 64; // the output is drawn from GRID x GRID points
const HISTORY = 1500; // curve points kept (thinned beyond)

const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3];
const L2_RATES = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];
const SPEEDS = [1, 2, 5, 10, 20, 50, 100];

// settings: the URL's query over these; the keys of DATA_KEYS make new data
const DEFAULTS = {dataset: 'xor', noise: 0, split: 50, seed: 1, features: 'x1,x2', layers: 2, units: 8,
  activation: 'tanh', optimizer: 'adam', lr: 0.03, l2: 0, batch: 10, speed: 10};
const DATA_KEYS = ['dataset', 'noise', 'split', 'seed', 'features'];
const LIVE_KEYS = ['batch', 'speed']; // apply to the next steps, no restart

const client = new EngineClient();
const canvas = $('playground-canvas');
const ctx = canvas.getContext('2d');
const boundary = el('canvas', {width: GRID, height: GRID}); // one pixel per grid point
const bctx = boundary.getContext('2d');

let settings = null;
let sets = null; // {points: {train, test}, train, test, grid}
let output = null; // the grid's outputs (GRID^2)
let curve = []; // [{step, trainLoss, testLoss, trainAccuracy, testAccuracy}]
let running = false;
let engineMs = 0, engineSteps = 0; // time the engine spent in training steps

// ---- settings: the form, the URL ----

const clamp = (v, lo, hi, d) => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : d);
const pick = (v, list, d) => (list.map(String).includes(String(v)) ? (typeof d === 'number' ? Number(v) : v) : d);

// a complete, valid settings object from partial, untrusted ones
function normalise(s) {
  const features = String(s.features ?? DEFAULTS.features).split(',').filter((f) => FEATURES[f]);
  return {
    dataset: pick(s.dataset, Object.keys(DATASETS), DEFAULTS.dataset),
    noise: clamp(Number(s.noise), 0, 50, DEFAULTS.noise),
    split: clamp(Number(s.split), 10, 90, DEFAULTS.split),
    seed: clamp(Number(s.seed), 1, 999999, DEFAULTS.seed),
    features: (features.length ? [...new Set(features)] : ['x1', 'x2']).join(','),
    layers: clamp(Number(s.layers), 0, LIMITS.layers, DEFAULTS.layers),
    units: clamp(Number(s.units), 1, LIMITS.units, DEFAULTS.units),
    activation: pick(s.activation, ACTIVATIONS, DEFAULTS.activation),
    optimizer: pick(s.optimizer, Object.keys(OPTIMIZERS), DEFAULTS.optimizer),
    lr: pick(s.lr, LEARNING_RATES, DEFAULTS.lr),
    l2: pick(s.l2, L2_RATES, DEFAULTS.l2),
    batch: clamp(Number(s.batch), 1, 100, DEFAULTS.batch),
    speed: pick(s.speed, SPEEDS, DEFAULTS.speed),
  };
}

function fromUrl() {
  const q = new URLSearchParams(location.search);
  return normalise(Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, q.get(k) ?? DEFAULTS[k]])));
}

function toUrl(s) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(s)) if (String(v) !== String(DEFAULTS[k])) q.set(k, v);
  const search = q.toString();
  window.history.replaceState(null, '', search ? `?${search}` : location.pathname);
}

function buildForm() {
  const options = (sel, items) => sel.replaceChildren(...items.map(([v, text]) => el('option', {value: v, text})));
  options($('dataset'), Object.entries(DATASETS));
  options($('activation'), ACTIVATIONS.map((a) => [a, a]));
  options($('optimizer'), Object.entries(OPTIMIZERS));
  options($('learning-rate'), LEARNING_RATES.map((v) => [v, String(v)]));
  options($('regularization'), L2_RATES.map((v) => [v, v ? String(v) : 'none']));
  options($('speed'), SPEEDS.map((v) => [v, String(v)]));
  $('features').append(...Object.entries(FEATURES).map(([name, f]) =>
    el('label', {class: 'feature'}, el('input', {type: 'checkbox', value: name, 'data-testid': `feature-${name}`}), f.label)));
}

function showSettings(s) {
  for (const [id, k] of [['dataset', 'dataset'], ['noise', 'noise'], ['split', 'split'], ['seed', 'seed'], ['layers', 'layers'],
    ['units', 'units'], ['activation', 'activation'], ['optimizer', 'optimizer'], ['learning-rate', 'lr'],
    ['regularization', 'l2'], ['batch-size', 'batch'], ['speed', 'speed']])
    $(id).value = String(s[k]);
  const on = s.features.split(',');
  for (const box of $('features').querySelectorAll('input')) box.checked = on.includes(box.value);
  document.querySelector('output[data-for="noise"]').textContent = `${s.noise}%`;
  document.querySelector('output[data-for="split"]').textContent = `${s.split}%`;
  $('units').disabled = s.layers === 0;
  $('activation').disabled = s.layers === 0;
}

function readForm() {
  const features = [...$('features').querySelectorAll('input:checked')].map((b) => b.value);
  return normalise({
    dataset: $('dataset').value, noise: $('noise').value, split: $('split').value, seed: $('seed').value,
    features: features.join(',') || settings.features, layers: $('layers').value, units: $('units').value,
    activation: $('activation').value, optimizer: $('optimizer').value, lr: $('learning-rate').value,
    l2: $('regularization').value, batch: $('batch-size').value, speed: $('speed').value,
  });
}

// ---- the worker, one request chain at a time ----

// Requests go one after another (a step, then a reset, ...); a failure
// stops training and shows its message. Resolves when fn is done.
let chain = Promise.resolve();
let pending = 0;
function serial(fn) {
  pending++;
  state.busy = true;
  chain = chain.then(fn).catch((e) => {
    running = false;
    showButtons();
    showError(e);
  }).finally(() => {
    state.busy = --pending > 0;
  });
  return chain;
}

function makeSets(s) {
  const features = s.features.split(',');
  const points = makeData(s.dataset, {n: POINTS, noise: s.noise / 100, trainRatio: s.split / 100, seed: s.seed});
  return {points, features, train: tensors(points.train, features), test: tensors(points.test, features),
    grid: gridInputs(GRID, features)};
}

// a new network from the settings (the same seed: the same starting
// weights), the data sent again, step 0
async function build(newData) {
  const s = settings;
  if (newData || !sets) sets = makeSets(s);
  const hidden = Array(s.layers).fill(s.units);
  const config = kerasConfig({features: sets.features, hidden, activation: s.activation, regularization: 'l2', rate: s.l2});
  setStatus('starting the network…', true);
  const info = await client.create(KEY, {config, seed: s.seed, loss: 'binary_crossentropy', optimizer: optimizerConfig(s.optimizer, s.lr)});
  await client.data(KEY, 'train', sets.train.x, sets.train.y);
  await client.data(KEY, 'test', sets.test.x, sets.test.y);
  await client.data(KEY, 'grid', sets.grid, null);
  curve = [];
  engineMs = engineSteps = 0;
  state.step = 0;
  state.epoch = 0;
  const shape = [sets.features.length, ...hidden, 1].join(' → ');
  $('network-info').textContent = `${shape}: ${info.params} parameters · engine on ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  state.params = info.params;
  await refresh();
  setStatus(running ? 'training' : 'ready', running);
}

// the engine's numbers for both sets and the grid's outputs, drawn
async function refresh() {
  const [tr, te, grid] = await Promise.all([client.evaluate(KEY, 'train'), client.evaluate(KEY, 'test'),
    client.predict(KEY, null, 0, {data: 'grid'})]);
  output = grid.output;
  const h = {step: state.step, trainLoss: tr.loss, testLoss: te.loss, trainAccuracy: tr.accuracy, testAccuracy: te.accuracy};
  curve.push(h);
  if (curve.length > HISTORY) curve = curve.filter((_, i) => i % 2 === 0 || i === curve.length - 1);
  Object.assign(state, h, {history: curve, boundary: Array.from(output), boundaryHash: hash(output)});
  showNumbers(h);
  draw();
  drawCurve();
}

async function train(steps) {
  const r = await client.train(KEY, {steps, batch: settings.batch});
  engineMs += r.ms;
  engineSteps += steps;
  state.step = r.step;
  state.epoch = r.epoch;
  state.msPerStep = engineMs / engineSteps;
  await refresh();
}

// FNV-1a over the outputs at 8 bits: a boundary's fingerprint for tests
function hash(values) {
  let h = 0x811c9dc5;
  for (const v of values) h = Math.imul(h ^ Math.round(v * 255), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

// ---- drawing ----

// probability of class 1 -> RGB: orange (0) through light grey (0.5) to blue (1)
const ORANGE = [245, 147, 34], GREY = [232, 234, 235], BLUE = [8, 119, 189];
function colour(p, light = 0) {
  const t = Math.max(-1, Math.min(1, 2 * p - 1)), end = t < 0 ? ORANGE : BLUE, a = Math.abs(t);
  return GREY.map((g, i) => Math.round((g + (end[i] - g) * a) * (1 - light) + 255 * light));
}

function draw() {
  const img = bctx.createImageData(GRID, GRID);
  for (let i = 0; i < GRID * GRID; i++) img.data.set([...colour(output[i], 0.25), 255], 4 * i);
  bctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(boundary, 0, 0, canvas.width, canvas.height);
  const px = (x) => ((x + EXTENT) / (2 * EXTENT)) * canvas.width, py = (y) => ((EXTENT - y) / (2 * EXTENT)) * canvas.height;
  const dot = (p, edge) => {
    ctx.beginPath();
    ctx.arc(px(p.x), py(p.y), 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${(p.label ? BLUE : ORANGE).join(',')})`;
    ctx.fill();
    ctx.strokeStyle = edge;
    ctx.lineWidth = 1;
    ctx.stroke();
  };
  for (const p of sets.points.train) dot(p, '#fff');
  if ($('show-test').checked) for (const p of sets.points.test) dot(p, '#000');
}

function drawCurve() {
  const xs = curve.map((h) => h.step);
  const chart = curve.length > 1
    ? curveChart('loss', [{name: 'training', values: curve.map((h) => h.trainLoss)}, {name: 'test', values: curve.map((h) => h.testLoss)}],
      {xs, xLabel: 'step'})
    : null;
  $('loss-curve').replaceChildren(...(chart ? [chart] : []));
}

function showNumbers(h) {
  const put = (id, v, text) => {
    $(id).textContent = text;
    $(id).dataset.value = String(v);
  };
  $('steps').textContent = String(state.step);
  $('epoch').textContent = state.epoch.toFixed(1);
  put('train-loss', h.trainLoss, h.trainLoss.toFixed(4));
  put('test-loss', h.testLoss, h.testLoss.toFixed(4));
  put('train-accuracy', h.trainAccuracy, percent(h.trainAccuracy));
  put('test-accuracy', h.testAccuracy, percent(h.testAccuracy));
}

function showButtons() {
  $('play').disabled = running;
  $('pause').disabled = !running;
  state.running = running;
}

// ---- play, pause, step, reset ----

const frame = () => new Promise((r) => requestAnimationFrame(() => r()));

async function play() {
  if (running) return;
  running = true;
  showButtons();
  clearError();
  setStatus('training', true);
  const t0 = performance.now(), step0 = state.step;
  while (running) {
    await serial(() => train(settings.speed));
    // steps per second of the page: training, tests, drawing, waiting for frames
    state.stepsPerSecond = (state.step - step0) / ((performance.now() - t0) / 1000);
    if (running) setStatus(`training · ${Math.round(state.stepsPerSecond)} steps/s · ${(1000 * state.msPerStep).toFixed(1)} µs per step in the engine`, true);
    await frame();
  }
}

function pause() {
  if (!running) return;
  running = false;
  showButtons();
  serial(() => setStatus(`paused at step ${state.step}`));
}

function step() {
  pause();
  serial(() => train(1)).then(() => setStatus(`step ${state.step}`));
}

function reset() {
  pause();
  serial(() => build(false));
}

// a changed control: new data and network, a new network, or nothing to redo
function changed() {
  const s = readForm(), old = settings;
  settings = s;
  showSettings(s);
  toUrl(s);
  const redo = Object.keys(s).filter((k) => String(s[k]) !== String(old[k]) && !LIVE_KEYS.includes(k));
  if (redo.length) serial(() => build(redo.some((k) => DATA_KEYS.includes(k))));
}

async function main() {
  buildForm();
  settings = fromUrl();
  showSettings(settings);
  state.settings = () => settings;
  for (const e of document.querySelectorAll('.panel select, .panel input')) e.addEventListener('change', changed);
  for (const id of ['noise', 'split']) $(id).addEventListener('input', () => {
    document.querySelector(`output[data-for="${id}"]`).textContent = `${$(id).value}%`;
  });
  $('show-test').addEventListener('change', () => sets && output && draw());
  $('play').addEventListener('click', play);
  $('pause').addEventListener('click', pause);
  $('step').addEventListener('click', step);
  $('reset').addEventListener('click', reset);
  showButtons();
  setStatus('loading the engine…', true);
  await serial(() => build(true));
  document.body.classList.remove('loading');
}

main();
