// worker-handler.js: what web/js/worker.js does with each message, apart
// from the worker itself so that node tests can drive it (docs/web.md,
// "The engine in the page"). Requests are {id, op, key, ...}; answers
// {id, ok: true, ...} or {id, ok: false, error: "message"}.
//
//   load    {url}             fetch url + "model.json" and the shards its
//                             weightsManifest names, relative to it
//           -> {inputShape, outputShape, summary, params, threads}
//   predict {input, batch}    -> {output (Float32Array), ms}
//   free                      -> {}

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
  const now = () => (globalThis.performance ? performance.now() : Date.now());

  async function model(key) {
    const m = models.get(key);
    if (!m) throw new Error(`model '${key}' is not loaded`);
    return m;
  }

  const ops = {
    async load({key, url}) {
      if (typeof url !== 'string') throw new Error('load: url must be a string');
      const old = models.get(key);
      const loading = (async () => {
        const files = await fetchModel(new URL(url, base).href, fetchFn);
        return (await engine).loadModel(files.text, files.shards, files.origin);
      })();
      models.set(key, loading);
      loading.catch(() => models.get(key) === loading && models.delete(key));
      if (old) old.then((m) => m.free(), () => {});
      const m = await loading;
      const threads = (await engine).threads();
      return {inputShape: m.inputShape, outputShape: m.outputShape, summary: m.summary, params: m.params, threads};
    },
    async predict({key, input, batch = 1}) {
      const m = await model(key);
      const t0 = now();
      const output = m.predict(input, batch);
      return {output, ms: now() - t0};
    },
    async free({key}) {
      const m = models.get(key);
      models.delete(key);
      if (m) (await m.catch(() => null))?.free(); // a failed load leaves nothing to free
      return {};
    },
  };

  return async function handle(msg) {
    const id = msg?.id;
    try {
      const op = ops[msg?.op];
      if (!op) throw new Error(`unknown op ${JSON.stringify(msg?.op)} (load, predict, free)`);
      if (typeof msg.key !== 'string' || !msg.key) throw new Error(`${msg.op}: key must be a non-empty string`);
      return {id, ok: true, ...(await op(msg))};
    } catch (e) {
      return {id, ok: false, error: e?.message ?? String(e)};
    }
  };
}
