// worker-handler.js: what web/js/worker.js does with each message, apart
// from the worker itself so that node tests can drive it (docs/web.md,
// "The engine in the page"). Requests are {id, op, key, ...}; answers
// {id, ok: true, ...} or {id, ok: false, error: "message"}.
//
//   load     {url}            fetch url + "model.json" and the shards its
//                             weightsManifest names, relative to it
//            -> {inputShape, outputShape, summary, params, threads}
//   predict  {input, batch}   -> {output (Float32Array), ms}
//            {data}           the outputs of a stored set (below)
//   free                      -> {}
// The playground's (trainer.js):
//   create   {config, seed, loss, optimizer}  a model from a Keras config,
//            compiled; replaces the key's model, keeps its data
//            -> {inputShape, outputShape, summary, params, threads, weights}
//   data     {name, x, y}     store a set of samples -> {n}
//   train    {steps, batch, data}  -> {losses (Float32Array), step, epoch, ms}
//   evaluate {data}           -> {loss, accuracy, correct, n}
//   weights                   -> {weights (Float32Array)}
// And, with no key:
//   explain  {description, steps, precision, origin}  -> {trace, ms}

import {Trainer} from './trainer.js';

// fetch that fails on HTTP errors, naming the URL
async function fetchOk(fetchFn, url, what) {
  let r;
  try {
    r = await fetchFn(url);
  } catch (e) {
    throw new Error(`${what} ${url}: ${e.message}`);
  }
  if (!r.ok) throw new Error(`${what} ${url}: HTTP ${r.status}`);
  return r;
}

// The files of a TF.js layers model: model.json's text and its shards.
export async function fetchModel(url, fetchFn = fetch) {
  const jsonUrl = new URL('model.json', url.endsWith('/') ? url : url + '/');
  const text = await (await fetchOk(fetchFn, jsonUrl.href, 'model.json')).text();
  let manifest;
  try {
    manifest = JSON.parse(text).weightsManifest;
  } catch (e) {
    throw new Error(`${jsonUrl.href}: not JSON (${e.message})`);
  }
  if (!Array.isArray(manifest)) throw new Error(`${jsonUrl.href}: no weightsManifest list`);
  const names = [...new Set(manifest.flatMap((g) => (Array.isArray(g?.paths) ? g.paths : [])))];
  const shards = {};
  await Promise.all(names.map(async (name) => {
    if (typeof name !== 'string' || name.startsWith('/') || name.includes('..'))
      throw new Error(`${jsonUrl.href}: shard path ${JSON.stringify(name)} is not a plain relative file name`);
    shards[name] = await (await fetchOk(fetchFn, new URL(name, jsonUrl).href, 'shard')).arrayBuffer();
  }));
  return {text, shards, origin: jsonUrl.pathname};
}

// A handler over an engine promise. base: the URL that relative model URLs
// are resolved against (the worker's location).
export function makeHandler({engine, fetch: fetchFn = fetch, base}) {
  const models = new Map(); // key -> Promise<Model>
  const trainers = new Map(); // key -> Trainer, for models made by create
  const now = () => (globalThis.performance ? performance.now() : Date.now());

  async function model(key) {
    const m = models.get(key);
    if (!m) throw new Error(`model '${key}' is not loaded`);
    return m;
  }

  async function trainer(key, op) {
    await model(key); // waits for a create in flight, or says the key is unknown
    const t = trainers.get(key);
    if (!t) throw new Error(`${op}: model '${key}' was not made by create`);
    return t;
  }

  // the key's model is replaced: free the old one once it is there
  function replace(key, loading) {
    const old = models.get(key);
    models.set(key, loading);
    loading.catch(() => models.get(key) === loading && models.delete(key));
    if (old) old.then((m) => m.free(), () => {});
  }

  const ops = {
    async load({key, url}) {
      if (typeof url !== 'string') throw new Error('load: url must be a string');
      const loading = (async () => {
        const files = await fetchModel(new URL(url, base).href, fetchFn);
        return (await engine).loadModel(files.text, files.shards, files.origin);
      })();
      trainers.delete(key);
      replace(key, loading);
      const m = await loading;
      const threads = (await engine).threads();
      return {inputShape: m.inputShape, outputShape: m.outputShape, summary: m.summary, params: m.params, threads};
    },
    async predict({key, input, batch = 1, data}) {
      const m = await model(key);
      const t0 = now();
      const output = data != null ? (await trainer(key, 'predict')).predict(data) : m.predict(input, batch);
      return {output, ms: now() - t0};
    },
    async create({key, config, seed = 1, loss = 'binary_crossentropy', optimizer = 'adam'}) {
      if (config == null) throw new Error('create: config (a Keras model config) is missing');
      const old = trainers.get(key);
      const making = (async () => {
        const m = (await engine).modelFromConfig(config, seed);
        try {
          m.compile(loss, optimizer);
          const t = new Trainer(m, {loss, seed});
          // the data sent for the old model, when the new one takes the same samples
          if (old && old.model.inputSize === m.inputSize && old.perTarget === t.perTarget)
            for (const [name, d] of old.sets) t.setData(name, d.x, d.y);
          trainers.set(key, t);
        } catch (e) {
          m.free();
          throw e;
        }
        return m;
      })();
      trainers.delete(key);
      replace(key, making);
      const m = await making;
      const threads = (await engine).threads();
      return {inputShape: m.inputShape, outputShape: m.outputShape, summary: m.summary, params: m.params, threads,
        weights: m.getWeights()};
    },
    async data({key, name, x, y}) {
      return {n: (await trainer(key, 'data')).setData(name, x, y)};
    },
    async train({key, steps = 1, batch = 32, data = 'train'}) {
      return (await trainer(key, 'train')).train(steps, batch, data);
    },
    async evaluate({key, data = 'test'}) {
      return (await trainer(key, 'evaluate')).evaluate(data);
    },
    async weights({key}) {
      return {weights: (await model(key)).getWeights()};
    },
    async explain({description, steps = 0, precision = 0, origin = 'network.json'}) {
      const e = await engine, t0 = now();
      const trace = e.explain(description, {steps, precision, origin});
      return {trace, ms: now() - t0};
    },
    async free({key}) {
      const m = models.get(key);
      models.delete(key);
      trainers.delete(key);
      if (m) (await m.catch(() => null))?.free(); // a failed load leaves nothing to free
      return {};
    },
  };

  return async function handle(msg) {
    const id = msg?.id;
    try {
      const op = ops[msg?.op];
      if (!op || !Object.hasOwn(ops, msg.op)) throw new Error(`unknown op ${JSON.stringify(msg?.op)} (${Object.keys(ops).join(', ')})`);
      if (msg.op !== 'explain' && (typeof msg.key !== 'string' || !msg.key))
        throw new Error(`${msg.op}: key must be a non-empty string`);
      return {id, ok: true, ...(await op(msg))};
    } catch (e) {
      return {id, ok: false, error: e?.message ?? String(e)};
    }
  };
}
