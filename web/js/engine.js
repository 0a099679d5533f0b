// engine.js: the mlexp engine compiled to WebAssembly (wasm/api.c, built
// into build/wasm/ and served at /wasm/), as the objects docs/web.md
// describes. An ES module for browser workers and node (tests). Every engine
// failure becomes an Error carrying the engine's message; nothing aborts.
//
//   const engine = await createEngine();
//   const model = engine.loadModel(modelJsonText, {"group1-shard1of1.bin": arrayBuffer});
//   const y = model.predict(x, batch);   // Float32Array (batch x output size)

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string' &&
  typeof window === 'undefined' && typeof self === 'undefined';

// The module next to the pages (/wasm/ beside /js/), or, in node, in the
// repository's build/wasm/.
function defaultModuleUrl() {
  return new URL(isNode ? '../../build/wasm/mlexp.js' : '../wasm/mlexp.js', import.meta.url);
}

async function instantiate(url, wasmBinary, options) {
  if (!wasmBinary && isNode) { // the module cannot fetch file: URLs under node
    const fs = await import('node:fs/promises');
    wasmBinary = await fs.readFile(new URL(url.pathname.replace(/\.js$/, '.wasm'), url));
  }
  const {default: factory} = await import(url.href);
  return factory({
    ...(wasmBinary ? {wasmBinary} : {}),
    print: options.print ?? (() => {}),
    printErr: options.printErr ?? ((s) => console.warn(s)),
  });
}

// options: moduleUrl (a build of the engine), wasmBinary (its .wasm bytes),
// threads (default: one per core, at most 8). Several threads need the
// threaded build (mlexp-threads.js), which needs a cross-origin isolated
// page (SharedArrayBuffer); elsewhere the engine runs on one thread.
export async function createEngine(options = {}) {
  const cores = Math.min(globalThis.navigator?.hardwareConcurrency || 1, 8);
  const threads = options.threads ?? cores;
  let mod = null;
  if (!options.moduleUrl && threads > 1 && !isNode && globalThis.crossOriginIsolated) {
    try {
      mod = await instantiate(new URL('mlexp-threads.js', defaultModuleUrl()), null, options);
    } catch (e) {
      console.warn(`mlexp: the threaded engine failed to start (${e?.message ?? e}); using one thread`);
    }
  }
  if (!mod) {
    const url = options.moduleUrl ? new URL(options.moduleUrl, import.meta.url) : defaultModuleUrl();
    mod = await instantiate(url, options.wasmBinary, options);
  }
  const engine = new Engine(mod);
  const shared = typeof SharedArrayBuffer === 'function' && mod.HEAPU8.buffer instanceof SharedArrayBuffer;
  if (threads > 1 && shared) engine.setThreads(Math.min(threads, cores));
  return engine;
}

const MAX_RANK = 8;

class Engine {
  constructor(mod) {
    this.mod = mod;
  }

  // the engine's message of the last failure, as an Error
  error(what) {
    const msg = this.mod.UTF8ToString(this.mod._mx_wasm_error());
    return new Error(msg ? `${what}: ${msg}` : `${what} failed`);
  }

  // malloc that throws; the heap views change when memory grows, so callers
  // read this.mod.HEAP* after every allocation
  alloc(bytes) {
    const p = this.mod._malloc(Math.max(bytes, 1));
    if (!p) throw new Error(`out of memory (${bytes} bytes)`);
    return p;
  }

  // a NUL-terminated copy of s in the module's memory (free with _free)
  string(s) {
    const n = this.mod.lengthBytesUTF8(s) + 1;
    const p = this.alloc(n);
    this.mod.stringToUTF8(s, p, n);
    return p;
  }

  threads() {
    return this.mod._mx_wasm_threads();
  }

  setThreads(n) {
    if (this.mod._mx_wasm_set_threads(n)) throw this.error('set threads');
  }

  // model.json's text and its shards by the names its weightsManifest gives:
  // {name: ArrayBuffer | TypedArray} or a Map
  loadModel(modelJsonText, shards = {}, origin = 'model.json') {
    if (typeof modelJsonText !== 'string') throw new TypeError('loadModel: model.json must be given as text');
    const entries = shards instanceof Map ? [...shards] : Object.entries(shards);
    const temps = []; // freed at the end: the engine copies what it keeps
    const keep = (p) => (temps.push(p), p);
    try {
      const json = keep(this.string(modelJsonText)), org = keep(this.string(origin));
      const n = entries.length;
      const names = keep(this.alloc(4 * n)), datas = keep(this.alloc(4 * n)), sizes = keep(this.alloc(4 * n));
      entries.forEach(([name, data], i) => {
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
          : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
        if (!bytes) throw new TypeError(`loadModel: shard '${name}' is not an ArrayBuffer or typed array`);
        const pn = keep(this.string(name)), pd = keep(this.alloc(bytes.length));
        this.mod.HEAPU8.set(bytes, pd);
        const h = this.mod.HEAP32;
        h[(names >> 2) + i] = pn;
        h[(datas >> 2) + i] = pd;
        h[(sizes >> 2) + i] = bytes.length;
      });
      const ptr = this.mod._mx_wasm_load(json, org, n, names, datas, sizes);
      if (!ptr) throw this.error('loadModel');
      return new Model(this, ptr);
    } finally {
      for (const p of temps) this.mod._free(p);
    }
  }

  // a model from a Keras config (object or JSON text), weights from the seed
  modelFromConfig(kerasConfig, seed = 1) {
    const text = typeof kerasConfig === 'string' ? kerasConfig : JSON.stringify(kerasConfig);
    const p = this.string(text);
    try {
      const ptr = this.mod._mx_wasm_from_config(p, seed);
      if (!ptr) throw this.error('modelFromConfig');
      return new Model(this, ptr);
    } finally {
      this.mod._free(p);
    }
  }

  // The trace of a network description (docs/explain.md: the object that
  // `mlexp explain FILE --format json` prints). description: JSON text or an
  // object; options: steps and precision (0 or absent: the description's
  // steps, 6 digits), origin (the name errors give, e.g. the file's).
  explain(description, {steps = 0, precision = 0, origin = 'network.json'} = {}) {
    const text = typeof description === 'string' ? description : JSON.stringify(description);
    for (const [k, v] of [['steps', steps], ['precision', precision]])
      if (!Number.isInteger(v)) throw new TypeError(`explain: ${k} must be an integer, got ${v}`);
    const pt = this.string(text), po = this.string(origin);
    try {
      const p = this.mod._mx_wasm_explain(pt, po, steps, precision);
      if (!p) throw this.error('explain');
      const json = this.mod.UTF8ToString(p);
      this.mod._free(p);
      return JSON.parse(json);
    } finally {
      this.mod._free(pt);
      this.mod._free(po);
    }
  }
}

const product = (a) => a.reduce((x, y) => x * y, 1);

function floats(x, what) {
  if (x instanceof Float32Array) return x;
  if (Array.isArray(x) || ArrayBuffer.isView(x)) return Float32Array.from(x);
  throw new TypeError(`${what} must be a Float32Array or an array of numbers`);
}

function checkBatch(batch, what) {
  if (!Number.isInteger(batch) || batch <= 0) throw new RangeError(`${what}: batch must be a positive integer, got ${batch}`);
}

class Model {
  constructor(engine, ptr) {
    this.engine = engine;
    this.ptr = ptr;
    const mod = engine.mod;
    const dims = engine.alloc(4 * MAX_RANK);
    try {
      const shape = (output) => {
        const rank = mod._mx_wasm_shape(ptr, output, dims);
        return Array.from(mod.HEAP32.subarray(dims >> 2, (dims >> 2) + rank));
      };
      this.inputShape = shape(0);
      this.outputShape = shape(1);
    } finally {
      mod._free(dims);
    }
    this.nInputs = mod._mx_wasm_n_inputs(ptr);
    this.nOutputs = mod._mx_wasm_n_outputs(ptr);
    this.trainableParams = mod._mx_wasm_params(ptr, 1);
    this.params = this.trainableParams + mod._mx_wasm_params(ptr, 0);
    const s = mod._mx_wasm_summary(ptr);
    if (!s) {
      const e = engine.error('summary');
      mod._mx_wasm_free(ptr);
      throw e;
    }
    this.summary = mod.UTF8ToString(s);
    mod._free(s);
    this.inputSize = product(this.inputShape);
    this.outputSize = product(this.outputShape);
    this.buffers = {}; // name -> {ptr, bytes}: reused across calls
  }

  live(what) {
    if (!this.ptr) throw new Error(`${what}: the model was freed`);
    return this.engine.mod;
  }

  // a buffer of at least `bytes` kept for the model's life
  buffer(name, bytes) {
    const b = this.buffers[name];
    if (b && b.bytes >= bytes) return b.ptr;
    if (b) this.engine.mod._free(b.ptr);
    delete this.buffers[name];
    const ptr = this.engine.alloc(bytes);
    this.buffers[name] = {ptr, bytes};
    return ptr;
  }

  checkSingle(what) {
    if (this.nInputs !== 1 || this.nOutputs !== 1)
      throw new Error(`${what}: models with ${this.nInputs} inputs and ${this.nOutputs} outputs are not supported (one of each)`);
  }

  checkLength(x, batch, size, shape, what) {
    if (x.length !== batch * size)
      throw new RangeError(`${what}: got ${x.length} values, expected ${batch * size} ` +
        `(batch ${batch} x (${shape.join(', ')}))`);
  }

  // x: batch x input size floats; returns a new Float32Array (batch x output size)
  predict(x, batch = 1) {
    const mod = this.live('predict');
    this.checkSingle('predict');
    checkBatch(batch, 'predict');
    x = floats(x, 'predict: the input');
    this.checkLength(x, batch, this.inputSize, this.inputShape, 'predict');
    const px = this.buffer('x', 4 * x.length), py = this.buffer('y', 4 * batch * this.outputSize);
    mod.HEAPF32.set(x, px >> 2);
    if (mod._mx_wasm_predict(this.ptr, px, batch, py)) throw this.engine.error('predict');
    return mod.HEAPF32.slice(py >> 2, (py >> 2) + batch * this.outputSize);
  }

  // loss: a Keras loss name or config; optimizer: a name ("adam") or
  // {"class_name": "Adam", "config": {...}} (object or JSON text)
  compile(loss, optimizer = 'adam') {
    const mod = this.live('compile');
    const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
    const pl = this.engine.string(text(loss)), po = this.engine.string(text(optimizer));
    try {
      if (mod._mx_wasm_compile(this.ptr, pl, po)) throw this.engine.error('compile');
    } finally {
      mod._free(pl);
      mod._free(po);
    }
  }

  // x and y of trainBatch and testBatch checked and copied into the
  // module's memory -> [x pointer, y pointer]
  batchIn(what, x, y, batch, needs) {
    const mod = this.live(what);
    this.checkSingle(what);
    checkBatch(batch, what);
    const per = mod._mx_wasm_target_size(this.ptr);
    if (!per) throw new Error(`${what}: the model has no ${needs} (compile it first)`);
    x = floats(x, `${what}: the input`);
    y = floats(y, `${what}: the targets`);
    this.checkLength(x, batch, this.inputSize, this.inputShape, `${what}: inputs`);
    if (y.length !== batch * per)
      throw new RangeError(`${what}: got ${y.length} targets, expected ${batch * per} (${per} per sample)`);
    const px = this.buffer('x', 4 * x.length), py = this.buffer('t', 4 * y.length);
    mod.HEAPF32.set(x, px >> 2);
    mod.HEAPF32.set(y, py >> 2);
    return [px, py];
  }

  // one optimizer step; y: class indices (sparse categorical crossentropy)
  // or targets shaped as the output; returns the loss
  trainBatch(x, y, batch) {
    const [px, py] = this.batchIn('trainBatch', x, y, batch, 'loss and optimizer');
    const mod = this.engine.mod, pl = this.buffer('loss', 8);
    if (mod._mx_wasm_train_batch(this.ptr, px, py, batch, pl)) throw this.engine.error('trainBatch');
    return mod.HEAPF64[pl >> 3];
  }

  // the loss (compiled, with regularization) and right predictions of one
  // batch in inference mode, without an update (Keras test_on_batch);
  // x and y as trainBatch takes them -> {loss, correct}
  testBatch(x, y, batch) {
    const [px, py] = this.batchIn('testBatch', x, y, batch, 'loss');
    const mod = this.engine.mod, po = this.buffer('test', 16);
    if (mod._mx_wasm_test_batch(this.ptr, px, py, batch, po)) throw this.engine.error('testBatch');
    return {loss: mod.HEAPF64[po >> 3], correct: mod.HEAPF64[(po >> 3) + 1]};
  }

  // floats of targets per sample for the compiled loss (trainBatch's y):
  // 1 for sparse categorical crossentropy on a vector, else the output size
  get targetSize() {
    const per = this.live('targetSize')._mx_wasm_target_size(this.ptr);
    if (!per) throw new Error('targetSize: the model has no loss (compile it first)');
    return per;
  }

  // plan memory once for batches of up to `batch` samples (for training
  // too when `training`), so that later calls of any of these sizes do not
  // allocate in the engine
  plan(batch, training = true) {
    const mod = this.live('plan');
    checkBatch(batch, 'plan');
    if (mod._mx_wasm_plan(this.ptr, batch, training ? 1 : 0)) throw this.engine.error('plan');
  }

  // all weights, flat, in the model's weight order
  getWeights() {
    const mod = this.live('getWeights');
    const n = mod._mx_wasm_weights_size(this.ptr);
    const p = this.buffer('w', 4 * n);
    mod._mx_wasm_weights_get(this.ptr, p);
    return mod.HEAPF32.slice(p >> 2, (p >> 2) + n);
  }

  setWeights(w) {
    const mod = this.live('setWeights');
    w = floats(w, 'setWeights');
    const n = mod._mx_wasm_weights_size(this.ptr);
    if (w.length !== n) throw new RangeError(`setWeights: got ${w.length} values, the model has ${n} weights`);
    const p = this.buffer('w', 4 * n);
    mod.HEAPF32.set(w, p >> 2);
    mod._mx_wasm_weights_set(this.ptr, p);
  }

  // per-layer timing of later calls: profile(true) starts (from zero),
  // profileReport() gives the table, profile(false) stops
  profile(on = true) {
    this.live('profile')._mx_wasm_profile(this.ptr, on ? 1 : 0);
  }

  profileReport() {
    const mod = this.live('profileReport');
    const p = mod._mx_wasm_profile_report(this.ptr);
    const text = mod.UTF8ToString(p);
    mod._free(p);
    return text;
  }

  free() {
    if (!this.ptr) return;
    const mod = this.engine.mod;
    for (const b of Object.values(this.buffers)) mod._free(b.ptr);
    this.buffers = {};
    mod._mx_wasm_free(this.ptr);
    this.ptr = 0;
  }
}
