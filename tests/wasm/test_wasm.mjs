// test_wasm.mjs BUILD_DIR: the WebAssembly engine (build/wasm/, through
// web/js/engine.js) against the native one (BUILD_DIR/mlexp, e.g.
// build/release): predictions of the committed models (models/*/, trained
// with the CLI when absent) and of TF.js-made models (tests/tfjs/make_model.js)
// agree to 1e-5; training steps agree; the explain trace of every
// examples/explain file equals `mlexp explain --format json`'s; bad input
// gives exceptions with the engine's message; testBatch equals the loss of
// the training step; the worker protocol (web/js/worker-handler.js: the
// pages' ops and the playground's, XOR trained to 100%) and the page client
// (web/js/engine-client.js) work. Prints "ok NAME" / "FAIL NAME: why" and
// ends with "N passed, N failed".
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';
import {fileURLToPath, pathToFileURL} from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const npy = require(path.join(ROOT, 'tests/tfjs/npy.js'));
const BUILD = path.resolve(process.argv[2] || path.join(ROOT, 'build/release'));
const MLEXP = path.join(BUILD, 'mlexp');
const STEP = path.join(BUILD, 'tests/wasm/native_step');
const TOL = 1e-5;

let passed = 0, failed = 0;
const ok = (name, note = '') => { passed++; console.log(`ok   ${name}${note ? ` (${note})` : ''}`); };
const fail = (name, why) => { failed++; console.log(`FAIL ${name}: ${why}`); };
async function test(name, fn) {
  try {
    const note = await fn();
    ok(name, note);
  } catch (e) {
    fail(name, e?.stack && !(e instanceof CheckError) ? e.stack : e?.message ?? String(e));
  }
}
class CheckError extends Error {}
const check = (cond, msg) => { if (!cond) throw new CheckError(msg); };
function throwsWith(fn, needle, what) {
  try {
    fn();
  } catch (e) {
    check(e instanceof Error && e.message.includes(needle), `${what}: message '${e?.message}' lacks '${needle}'`);
    return e.message;
  }
  throw new CheckError(`${what}: no exception`);
}

const maxAbsDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlexp_wasm.'));
process.on('exit', () => fs.rmSync(tmp, {recursive: true, force: true}));
const run = (cmd, args) => execFileSync(cmd, args, {cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});

// deterministic uniform values in [lo, hi)
function uniform(n, seed, lo = 0, hi = 1) {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

function readModelDir(dir) {
  const text = fs.readFileSync(path.join(dir, 'model.json'), 'utf8');
  const shards = {};
  for (const g of JSON.parse(text).weightsManifest)
    for (const p of g.paths) shards[p] = fs.readFileSync(path.join(dir, p));
  return {text, shards};
}

function nativePredict(dir, xFile, shape, x) {
  npy.save(xFile, shape, x);
  const yFile = xFile.replace(/\.npy$/, '.y.npy');
  run(MLEXP, ['predict', dir, '--input', xFile, '--output', yFile]);
  return npy.load(yFile).data;
}

// ---- the module ----
const wasmJs = path.join(ROOT, 'build/wasm/mlexp.js');
if (!fs.existsSync(wasmJs) || !fs.existsSync(MLEXP) || !fs.existsSync(STEP)) {
  fail('setup', `need ${wasmJs} (make wasm), ${MLEXP} and ${STEP} (make ${path.relative(ROOT, STEP)})`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(1);
}
const {createEngine} = await import(pathToFileURL(path.join(ROOT, 'web/js/engine.js')).href);
const engine = await createEngine();

// ---- models: the committed ones, else trained by the CLI on a subset ----
const dirs = [];
for (const name of ['digits_mlp', 'digits_cnn', 'fashion_cnn']) {
  let dir = path.join(ROOT, 'models', name);
  if (!fs.existsSync(path.join(dir, 'model.json'))) {
    dir = path.join(tmp, name);
    try {
      run(MLEXP, ['train', name, '--epochs', '1', '--limit', '256', '--out', dir]);
    } catch (e) {
      fail(`train ${name}`, String(e.stderr || e.message).trim().split('\n').pop());
      continue;
    }
  }
  dirs.push({name, dir, batch: 5, range: [0, 1]});
}
// recurrent models built and trained natively (the CLI, one short epoch): the
// numbers_summation architecture (LSTM encoder, RepeatVector, LSTM decoder,
// TimeDistributed Dense, softmax), and the same task with a bidirectional GRU
// encoder and a SimpleRNN decoder
{
  const ex = JSON.parse(fs.readFileSync(path.join(ROOT, 'experiments/numbers_summation.json'), 'utf8'));
  const variant = structuredClone(ex);
  variant.name = 'summation_gru_rnn';
  variant.model.config.name = variant.name;
  variant.model.config.layers.splice(1, 3,
    {class_name: 'Bidirectional', config: {name: 'encoder', merge_mode: 'concat',
      layer: {class_name: 'GRU', config: {name: 'gru', units: 16}}}},
    {class_name: 'RepeatVector', config: {name: 'repeat', n: 3}},
    {class_name: 'SimpleRNN', config: {name: 'decoder', units: 16, return_sequences: true}});
  for (const e of [ex, variant]) {
    const file = path.join(tmp, `${e.name}.json`), dir = path.join(tmp, e.name);
    fs.writeFileSync(file, JSON.stringify(e));
    try {
      run(MLEXP, ['train', file, '--epochs', '1', '--limit', '256', '--out', dir]);
      dirs.push({name: e.name, dir, batch: 5, range: [0, 1]});
    } catch (err) {
      fail(`train ${e.name}`, String(err.stderr || err.message).trim().split('\n').pop());
    }
  }
}
// TF.js-made models covering the other kernels (Winograd and direct
// convolutions, depthwise, pooling, batch norm, activations, merges, nesting)
const TFJS_CASES = ['conv2d_same_s2', 'conv2d_rect', 'conv2d_valid_dilated', 'conv2d_1x1', 'depthwise_same',
  'depthwise_valid_s2_mult2', 'separable', 'batchnorm', 'maxpool_same', 'avgpool_same', 'activation_gelu',
  'activation_softmax', 'upsampling_bilinear', 'prelu', 'dense_rank3', 'residual_block', 'mobilenet_block',
  'nested', 'concat_axis1',
  // recurrent: Embedding + SimpleRNN, stacked LSTMs + Dense, GRU, a bidirectional GRU
  'embedding', 'lstm_stacked', 'gru', 'bidirectional_sum'];
for (const c of TFJS_CASES) {
  const dir = path.join(tmp, 'tfjs', c);
  try {
    run('node', [path.join(ROOT, 'tests/tfjs/make_model.js'), c, dir]);
    dirs.push({name: `tfjs ${c}`, dir, tfjs: true});
  } catch (e) {
    fail(`make_model ${c}`, String(e.stderr || e.message).trim().split('\n').pop());
  }
}

const figures = [];
for (const m of dirs) {
  await test(`predict ${m.name}`, () => {
    const model = engine.loadModel(...Object.values(readModelDir(m.dir)), `${m.name}/model.json`);
    try {
      let x, batch;
      if (m.tfjs) {
        const t = npy.load(path.join(m.dir, 'x.npy'));
        x = t.data;
        batch = t.shape[0];
      } else {
        batch = m.batch;
        x = uniform(batch * model.inputSize, 7, ...m.range);
      }
      const native = nativePredict(m.dir, path.join(tmp, `${m.name.replace(/\W/g, '_')}.npy`),
        [batch, ...model.inputShape], x);
      const wasm = model.predict(x, batch);
      check(wasm.length === native.length, `${wasm.length} outputs, native ${native.length}`);
      const d = maxAbsDiff(wasm, native);
      figures.push(`${m.name} ${d.toExponential(2)}`);
      check(d <= TOL, `max |wasm - native| = ${d}`);
      // one sample at a time gives the same rows
      const one = model.predict(x.subarray(0, model.inputSize), 1);
      check(maxAbsDiff(one, wasm.subarray(0, model.outputSize)) <= TOL, 'batch 1 differs from batch');
      let note = `max abs diff ${d.toExponential(2)}`;
      if (m.tfjs) {
        const tf = npy.load(path.join(m.dir, 'y.npy')).data;
        const dt = maxAbsDiff(wasm, tf);
        check(dt <= 1e-4, `max |wasm - TF.js| = ${dt}`);
        note += `, vs TF.js ${dt.toExponential(2)}`;
      }
      return note;
    } finally {
      model.free();
    }
  });
}

await test('model info', () => {
  const dir = dirs.find((d) => d.name === 'digits_cnn')?.dir;
  check(dir, 'no digits_cnn');
  const model = engine.loadModel(...Object.values(readModelDir(dir)));
  check(JSON.stringify(model.inputShape) === '[28,28,1]' && JSON.stringify(model.outputShape) === '[10]', 'shapes');
  check(model.params === 37610, `params ${model.params}`);
  const info = run(MLEXP, ['info', dir]);
  check(info.startsWith(model.summary), 'summary differs from `mlexp info`');
  model.free();
  throwsWith(() => model.predict(new Float32Array(784), 1), 'the model was freed', 'use after free');
});

// ---- training: WebAssembly steps equal native ones ----
const digits = JSON.parse(fs.readFileSync(path.join(ROOT, 'experiments/digits_cnn.json'), 'utf8'));
for (const [optName, optimizer, steps] of [['adam', {class_name: 'Adam', config: {learning_rate: 0.001}}, 3],
  ['sgd', {class_name: 'SGD', config: {learning_rate: 0.05, momentum: 0.9}}, 3]]) {
  await test(`train steps ${optName}`, () => {
    const B = 8, seed = 11;
    const net = engine.modelFromConfig(digits.model, seed);
    try {
      net.compile('sparse_categorical_crossentropy', optimizer);
      const x = uniform(B * 784, 3), y = Float32Array.from({length: B}, (_, i) => (i * 3) % 10);
      const cfg = path.join(tmp, 'digits_cnn.config.json');
      fs.writeFileSync(cfg, JSON.stringify(digits.model));
      npy.save(path.join(tmp, 'tx.npy'), [B, 28, 28, 1], x);
      npy.save(path.join(tmp, 'ty.npy'), [B], y);
      const out = run(STEP, [cfg, String(seed), 'sparse_categorical_crossentropy', JSON.stringify(optimizer),
        path.join(tmp, 'tx.npy'), path.join(tmp, 'ty.npy'), String(steps), path.join(tmp, 'tw.npy')]);
      const nativeLoss = out.trim().split('\n').map(Number);
      const wasmLoss = [];
      for (let s = 0; s < steps; s++) wasmLoss.push(net.trainBatch(x, y, B));
      const dl = Math.max(...wasmLoss.map((l, i) => Math.abs(l - nativeLoss[i])));
      check(dl <= 1e-5, `losses ${wasmLoss} vs native ${nativeLoss}`);
      const dw = maxAbsDiff(net.getWeights(), npy.load(path.join(tmp, 'tw.npy')).data);
      check(dw <= 1e-5, `weights differ by ${dw}`);
      figures.push(`train ${optName}: loss ${dl.toExponential(2)}, weights ${dw.toExponential(2)}`);
      return `${steps} steps: loss diff ${dl.toExponential(2)}, weight diff ${dw.toExponential(2)}`;
    } finally {
      net.free();
    }
  });
}

await test('weights round trip', () => {
  const a = engine.modelFromConfig(digits.model, 1), b = engine.modelFromConfig(digits.model, 2);
  const x = uniform(2 * 784, 5);
  check(maxAbsDiff(a.predict(x, 2), b.predict(x, 2)) > 0, 'seeds give the same model');
  b.setWeights(a.getWeights());
  check(maxAbsDiff(a.predict(x, 2), b.predict(x, 2)) === 0, 'setWeights(getWeights()) differs');
  throwsWith(() => b.setWeights(new Float32Array(5)), 'the model has 37610 weights', 'setWeights size');
  a.free();
  b.free();
});

// ---- explain: the trace the backprop page lays out is the command line's ----

// Differences between two traces: the same keys, list lengths and texts;
// numbers within 1e-6 (relative above 1). A formula line whose words agree
// but whose numbers differ in their last printed digit (float32 sums in
// another order) is counted, not failed; other text must be equal.
function traceDiff(a, b, where, out) {
  if (typeof a === 'number' && typeof b === 'number') {
    if (!(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a)))) out.diffs.push(`${where}: ${a} vs ${b}`);
  } else if (typeof a === 'string' && typeof b === 'string') {
    if (a === b) return;
    const num = /-?\d+(\.\d+)?(e[-+]?\d+)?/g;
    const na = a.match(num) || [], nb = b.match(num) || [];
    const close = a.replace(num, '#') === b.replace(num, '#') && na.length === nb.length &&
      na.every((v, i) => Math.abs(v - nb[i]) <= 2e-5 * Math.max(1e-3, Math.abs(v)));
    if (close) out.lastDigit++;
    else out.diffs.push(`${where}: '${a}' vs '${b}'`);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.diffs.push(`${where}: ${a.length} vs ${b.length} items`);
    else a.forEach((v, i) => traceDiff(v, b[i], `${where}[${i}]`, out));
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort().join(), kb = Object.keys(b).sort().join();
    if (ka !== kb) out.diffs.push(`${where}: keys ${ka} vs ${kb}`);
    else for (const k of Object.keys(a)) traceDiff(a[k], b[k], `${where}.${k}`, out);
  } else if (a !== b) {
    out.diffs.push(`${where}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
}

const explainFiles = fs.readdirSync(path.join(ROOT, 'examples/explain')).filter((f) => f.endsWith('.json')).sort();
for (const file of explainFiles) {
  await test(`explain ${file}`, () => {
    const rel = `examples/explain/${file}`;
    const native = JSON.parse(run(MLEXP, ['explain', rel, '--format', 'json']));
    const wasm = engine.explain(fs.readFileSync(path.join(ROOT, rel), 'utf8'), {origin: rel});
    const out = {diffs: [], lastDigit: 0};
    traceDiff(wasm, native, 'trace', out);
    check(out.diffs.length === 0, `${out.diffs.length} differences: ${out.diffs.slice(0, 4).join('; ')}`);
    check(wasm.check.ok, `the trace's own check fails: ${JSON.stringify(wasm.check.notes).slice(0, 300)}`);
    return `${wasm.steps.length} step(s)${out.lastDigit ? `, ${out.lastDigit} lines differ in a last digit` : ''}`;
  });
}

await test('explain options and errors', () => {
  const text = fs.readFileSync(path.join(ROOT, 'examples/explain/adam.json'), 'utf8');
  const t = engine.explain(text, {steps: 2, precision: 3});
  check(t.steps.length === 2, `${t.steps.length} steps`);
  const native = JSON.parse(run(MLEXP, ['explain', 'examples/explain/adam.json', '--steps', '2', '--precision', '3', '--format', 'json']));
  const out = {diffs: [], lastDigit: 0};
  traceDiff(t, native, 'trace', out);
  check(out.diffs.length === 0, out.diffs.slice(0, 4).join('; '));
  throwsWith(() => engine.explain('{"inputs": [1], "layers": [{"type": "Dense", "units": 1, "kernal": 1}]}', {origin: 'net.json'}),
    "net.json: layers[0] (Dense): unknown config key 'kernal'", 'unknown key');
  throwsWith(() => engine.explain('{"inputs": [1', {origin: 'cut.json'}), 'cut.json', 'cut JSON');
  throwsWith(() => engine.explain(text, {steps: 1001}), 'steps must be 1 to 1000', 'steps');
  throwsWith(() => engine.explain(text, {precision: 18}), 'precision must be 1 to 17', 'precision');
  check(engine.explain({inputs: [1], layers: [{type: 'Dense', units: 1, kernel: 2, bias: 0}], targets: [1],
    loss: 'half_squared_error'}).steps[0].forward[0].data[0] === 2, 'a description given as an object');
});

// ---- bad input: exceptions with the engine's message, the module lives on ----
await test('bad input', () => {
  const dir = dirs.find((d) => d.name === 'digits_cnn').dir;
  const {text, shards} = readModelDir(dir);
  throwsWith(() => engine.loadModel(text.slice(0, text.length / 2), shards, 'cut/model.json'),
    'cut/model.json: invalid JSON', 'cut model.json');
  throwsWith(() => engine.loadModel(text.replace('"Conv2D"', '"Conv9D"'), shards), 'Conv9D', 'unknown layer');
  throwsWith(() => engine.loadModel(text, {}), "shard 'group1-shard1of1.bin' is missing", 'missing shard');
  const short = {'group1-shard1of1.bin': shards['group1-shard1of1.bin'].subarray(0, 1000)};
  throwsWith(() => engine.loadModel(text, short), 'a missing or short shard', 'short shard');
  throwsWith(() => engine.modelFromConfig('{"class_name": "Sequential"}'), 'modelFromConfig:', 'bad config');
  const model = engine.loadModel(text, shards);
  throwsWith(() => model.predict(new Float32Array(783), 1), 'got 783 values, expected 784 (batch 1 x (28, 28, 1))',
    'wrong input size');
  throwsWith(() => model.predict(new Float32Array(784), 0), 'batch must be a positive integer', 'batch 0');
  throwsWith(() => model.trainBatch(new Float32Array(784), [1], 1), 'compile it first', 'train before compile');
  throwsWith(() => model.compile('hinge'), "loss 'hinge' is not supported", 'unknown loss');
  throwsWith(() => model.compile('mse', {class_name: 'Adagrad'}), "optimizer 'Adagrad' is not supported", 'optimizer');
  model.compile('sparse_categorical_crossentropy', 'adam');
  throwsWith(() => model.trainBatch(new Float32Array(784), [12], 1), 'not a class index in 0..9', 'bad label');
  throwsWith(() => model.trainBatch(new Float32Array(784), [1, 2], 1), 'got 2 targets, expected 1', 'targets size');
  check(Number.isFinite(model.trainBatch(new Float32Array(784), [3], 1)), 'a step after the errors');
  check(model.predict(new Float32Array(784), 1).length === 10, 'predict after the errors');
  model.free();
});

// ---- the worker's protocol, with a fetch over the models' files ----
function fakeFetch(routes) {
  return async (url) => {
    const u = new URL(url);
    const file = routes(u.pathname);
    if (!file || !fs.existsSync(file)) return new Response('not found', {status: 404});
    return new Response(fs.readFileSync(file));
  };
}
const modelsRoot = path.join(tmp, 'served');
fs.mkdirSync(modelsRoot);
for (const m of dirs.filter((d) => !d.tfjs)) fs.symlinkSync(m.dir, path.join(modelsRoot, m.name));
const routes = (p) => (p.startsWith('/models/') ? path.join(modelsRoot, decodeURIComponent(p.slice(8))) : null);
const {makeHandler} = await import(pathToFileURL(path.join(ROOT, 'web/js/worker-handler.js')).href);

await test('worker protocol', async () => {
  const handle = makeHandler({engine: Promise.resolve(engine), fetch: fakeFetch(routes), base: 'http://test/js/worker.js'});
  const info = await handle({id: 1, op: 'load', key: 'd', url: '/models/digits_cnn/'});
  check(info.id === 1 && info.ok && info.params === 37610 && info.inputShape.join() === '28,28,1' &&
    info.summary.includes('Total params: 37,610'), `load: ${JSON.stringify(info).slice(0, 200)}`);
  const x = uniform(3 * 784, 9);
  const r = await handle({id: 2, op: 'predict', key: 'd', input: x, batch: 3});
  check(r.ok && r.id === 2 && r.output instanceof Float32Array && r.output.length === 30 && r.ms >= 0, 'predict');
  const direct = engine.loadModel(...Object.values(readModelDir(path.join(modelsRoot, 'digits_cnn'))));
  check(maxAbsDiff(r.output, direct.predict(x, 3)) === 0, 'worker output differs from engine.js');
  direct.free();
  const e1 = await handle({id: 3, op: 'predict', key: 'd', input: x.subarray(0, 5), batch: 1});
  check(!e1.ok && e1.id === 3 && e1.error.includes('got 5 values'), `bad input: ${e1.error}`);
  const e2 = await handle({id: 4, op: 'load', key: 'n', url: '/models/nosuch/'});
  check(!e2.ok && /model\.json http:\/\/test\/models\/nosuch\/model\.json: HTTP 404/.test(e2.error), `404: ${e2.error}`);
  const e3 = await handle({id: 5, op: 'predict', key: 'n', input: x, batch: 1});
  check(!e3.ok && e3.error.includes("model 'n' is not loaded"), `unknown key: ${e3.error}`);
  const e4 = await handle({id: 6, op: 'fly', key: 'd'});
  check(!e4.ok && e4.error.includes('unknown op "fly" (load, predict'), `unknown op: ${e4.error}`);
  // a model whose shard is missing
  fs.mkdirSync(path.join(modelsRoot, 'broken'));
  fs.copyFileSync(path.join(modelsRoot, 'digits_cnn', 'model.json'), path.join(modelsRoot, 'broken', 'model.json'));
  const e5 = await handle({id: 7, op: 'load', key: 'b', url: '/models/broken/'});
  check(!e5.ok && e5.error.includes('group1-shard1of1.bin: HTTP 404'), `missing shard: ${e5.error}`);
  // requests sent while loading wait for the model
  const [l, p] = await Promise.all([handle({id: 8, op: 'load', key: 'f', url: '/models/fashion_cnn/'}),
    handle({id: 9, op: 'predict', key: 'f', input: uniform(784, 2), batch: 1})]);
  check(l.ok && p.ok && p.output.length === 10, `load then predict: ${p.error}`);
  const f = await handle({id: 10, op: 'free', key: 'd'});
  check(f.ok, 'free');
  const e6 = await handle({id: 11, op: 'predict', key: 'd', input: x, batch: 3});
  check(!e6.ok && e6.error.includes('not loaded'), 'predict after free');
  await handle({id: 12, op: 'free', key: 'f'});
});

// ---- the playground's ops: a network made from settings, trained on toy data ----
const playnet = await import(pathToFileURL(path.join(ROOT, 'web/js/playnet.js')).href);
const toydata = await import(pathToFileURL(path.join(ROOT, 'web/js/toydata.js')).href);

// the playground's XOR and a network that learns it (the browser test's)
function xorSetup(seed = 1, l2 = 0) {
  const features = ['x1', 'x2'];
  const data = toydata.makeData('xor', {n: 400, noise: 0, trainRatio: 0.5, seed});
  return {
    features,
    train: playnet.tensors(data.train, features),
    test: playnet.tensors(data.test, features),
    config: playnet.kerasConfig({features, hidden: [8, 8], activation: 'relu', regularization: 'l2', rate: l2}),
    optimizer: playnet.optimizerConfig('adam', 0.03),
  };
}

await test('testBatch', () => {
  const {config, optimizer, train} = xorSetup(1, 0.01);
  const net = engine.modelFromConfig(config, 3);
  try {
    net.compile('binary_crossentropy', optimizer);
    const x = train.x.subarray(0, 20), y = train.y.subarray(0, 10); // 10 samples
    const before = net.getWeights();
    const a = net.testBatch(x, y, 10), b = net.testBatch(x, y, 10);
    check(a.loss === b.loss && a.correct === b.correct && maxAbsDiff(before, net.getWeights()) === 0, 'testing changed something');
    check(Number.isInteger(a.correct) && a.correct >= 0 && a.correct <= 10, `correct ${a.correct}`);
    const trained = net.trainBatch(x, y, 10);
    check(Math.abs(trained - a.loss) <= 1e-6, `test ${a.loss} vs the training step's ${trained}`);
    check(net.testBatch(x, y, 10).loss !== a.loss, 'the step changed nothing');
    // right predictions counted as the outputs say
    const x20 = train.x.subarray(0, 40), y20 = train.y.subarray(0, 20);
    const p = net.predict(x20, 20), c = net.testBatch(x20, y20, 20).correct;
    const mine = Array.from(p).filter((v, i) => (v > 0.5) === (y20[i] > 0.5)).length;
    check(c === mine, `${c} right, the outputs say ${mine}`);
    throwsWith(() => net.testBatch(x, y.subarray(0, 3), 10), 'testBatch: got 3 targets, expected 10', 'targets size');
    net.plan(500);
    check(net.testBatch(x, y, 10).loss === net.testBatch(x, y, 10).loss, 'after plan');
    return `loss ${a.loss.toFixed(6)} = the step's ${trained.toFixed(6)}`;
  } finally {
    net.free();
  }
});

await test('worker playground ops', async () => {
  const handle = makeHandler({engine: Promise.resolve(engine), fetch: fakeFetch(routes), base: 'http://test/js/worker.js'});
  const {config, optimizer, train, test: held, features} = xorSetup();
  const grid = playnet.gridInputs(16, features);
  let id = 0;
  const call = async (msg) => {
    const r = await handle({id: ++id, ...msg});
    check(r.ok, `${msg.op}: ${r.error}`);
    return r;
  };
  const made = await call({op: 'create', key: 'p', config, seed: 1, loss: 'binary_crossentropy', optimizer});
  check(made.inputShape.join() === '2' && made.outputShape.join() === '1' && made.params === 2 * 8 + 8 + 8 * 8 + 8 + 9 &&
    made.weights.length === made.params, `create: ${JSON.stringify(made).slice(0, 200)}`);
  check((await call({op: 'data', key: 'p', name: 'train', x: train.x, y: train.y})).n === 200, 'train set');
  await call({op: 'data', key: 'p', name: 'test', x: held.x, y: held.y});
  await call({op: 'data', key: 'p', name: 'grid', x: grid, y: null});
  const e0 = await call({op: 'evaluate', key: 'p', data: 'test'});
  // the numbers are the engine's: a model with the same weights tests the same
  const twin = engine.modelFromConfig(config, 99);
  twin.compile('binary_crossentropy', optimizer);
  twin.setWeights(made.weights);
  const direct = twin.testBatch(held.x, held.y, 200);
  check(e0.loss === direct.loss && e0.accuracy === direct.correct / 200 && e0.n === 200, `evaluate ${JSON.stringify(e0)} vs ${JSON.stringify(direct)}`);
  twin.free();
  const r = await call({op: 'train', key: 'p', steps: 25, batch: 10});
  check(r.losses instanceof Float32Array && r.losses.length === 25 && r.step === 25 && r.epoch === 25 * 10 / 200,
    `train: ${r.losses?.length} losses, step ${r.step}, epoch ${r.epoch}`);
  const g = await call({op: 'predict', key: 'p', data: 'grid'});
  check(g.output.length === 256 && g.output.every((v) => v > 0 && v < 1), `grid: ${g.output.length} outputs`);
  // XOR to 100% on both sets, evaluated every 5 steps
  let reached = null;
  for (let s = 25; s < 1000 && reached == null; s += 5) {
    await call({op: 'train', key: 'p', steps: 5, batch: 10});
    const [a, b] = [await call({op: 'evaluate', key: 'p', data: 'train'}), await call({op: 'evaluate', key: 'p', data: 'test'})];
    if (a.accuracy === 1 && b.accuracy === 1) reached = s + 5;
  }
  check(reached != null, 'XOR did not reach 100% in 1000 steps');
  // the same seed trains the same way; create again keeps the data
  const again = await call({op: 'create', key: 'p', config, seed: 1, loss: 'binary_crossentropy', optimizer});
  check(maxAbsDiff(again.weights, made.weights) === 0, 'the same seed gave other weights');
  const r2 = await call({op: 'train', key: 'p', steps: 25, batch: 10});
  check(r2.step === 25 && maxAbsDiff(r2.losses, r.losses) === 0, 'a second run differs');
  const w = await call({op: 'weights', key: 'p'});
  check(w.weights.length === made.params, 'weights');
  // errors
  const bad = async (msg, needle) => {
    const e = await handle({id: ++id, ...msg});
    check(!e.ok && e.error.includes(needle), `${msg.op}: '${e.error}' lacks '${needle}'`);
  };
  await bad({op: 'data', key: 'p', name: 'train', x: new Float32Array(5), y: null}, "5 input values are not a whole number of samples of 2");
  await bad({op: 'data', key: 'p', name: 'train', x: train.x, y: train.y.subarray(0, 7)}, '7 targets for 200 samples');
  await bad({op: 'evaluate', key: 'p', data: 'grid'}, "data 'grid' has no targets");
  await bad({op: 'train', key: 'p', steps: 0, batch: 10}, 'steps must be 1 to 100000');
  await bad({op: 'evaluate', key: 'p', data: 'nosuch'}, "no data 'nosuch'");
  await bad({op: 'train', key: 'q', steps: 1}, "model 'q' is not loaded");
  await bad({op: 'create', key: 'p', config, optimizer: 'adagrad'}, "optimizer 'adagrad' is not supported");
  await bad({op: 'create', key: 'p'}, 'config (a Keras model config) is missing');
  await call({op: 'load', key: 'd', url: '/models/digits_mlp/'});
  await bad({op: 'train', key: 'd', steps: 1}, "model 'd' was not made by create");
  await call({op: 'free', key: 'd'});
  await call({op: 'free', key: 'p'});
  await bad({op: 'evaluate', key: 'p'}, 'not loaded');
  // the trace, as engine.explain gives it
  const text = fs.readFileSync(path.join(ROOT, 'examples/explain/sigmoid_221.json'), 'utf8');
  const t = await call({op: 'explain', description: text, origin: 'sigmoid_221.json'});
  check(JSON.stringify(t.trace) === JSON.stringify(engine.explain(text, {origin: 'sigmoid_221.json'})), 'explain op');
  await bad({op: 'explain', description: '{"inputs": [1', origin: 'cut.json'}, 'explain: cut.json');
  return `XOR at 100% after ${reached} steps`;
});

// ---- the page client over a stand-in Worker running the same handler ----
await test('engine client', async () => {
  const handle = makeHandler({engine: Promise.resolve(engine), fetch: fakeFetch(routes), base: 'http://test/js/worker.js'});
  let started = null;
  globalThis.Worker = class {
    constructor(url, opts) {
      started = {url: String(url), type: opts?.type};
    }
    postMessage(msg, transfer) {
      const copy = structuredClone(msg, {transfer});
      handle(copy).then((reply) => this.onmessage({data: structuredClone(reply)}));
    }
    terminate() {}
  };
  const {EngineClient} = await import(pathToFileURL(path.join(ROOT, 'web/js/engine-client.js')).href);
  const client = new EngineClient();
  check(started.url.endsWith('/web/js/worker.js') && started.type === 'module', `worker ${JSON.stringify(started)}`);
  const info = await client.load('m', '/models/digits_mlp/');
  check(info.outputShape.join() === '10' && !('id' in info) && !('ok' in info), `load: ${Object.keys(info)}`);
  const x = uniform(2 * 784, 4);
  const {output, ms} = await client.predict('m', x, 2);
  check(output.length === 20 && ms >= 0 && x.length === 1568, 'predict (the caller keeps its input)');
  let err = null;
  await client.predict('m', x, 1).catch((e) => { err = e; });
  check(err instanceof Error && err.message.includes('expected 784'), `rejects: ${err?.message}`);
  await client.free('m');
  client.terminate();
  delete globalThis.Worker;
});

console.log(`figures: ${figures.join('; ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
