// bench.js: the benchmark page. mlexp's WebAssembly engine (one thread, and
// the threaded build) and TensorFlow.js's wasm backend (threaded SIMD when
// the page is cross-origin isolated) predict with the same model in the same
// page: warm-up first, then rounds that take turns, each call timed alone
// (input array in, output array out). Leaves window.benchResult.
//   ?model=fashion_cnn&rounds=10&threads=2
import {createEngine} from '/js/engine.js';
import {EngineClient} from '/js/engine-client.js';
import {fetchModel} from '/js/worker-handler.js';

const q = new URLSearchParams(location.search);
const MODEL = q.get('model') || 'fashion_cnn';
const ROUNDS = Number(q.get('rounds') || 10);
const THREADS = Number(q.get('threads') || navigator.hardwareConcurrency || 2);
const BATCHES = (q.get('batches') || '1,64').split(',').map(Number);
const REPS = (b) => Math.max(2, Math.round(64 / b)); // calls per batch size and round
const out = document.getElementById('out');
const log = (s) => { out.textContent += `\n${s}`; };

function uniform(n, seed) {
  let s = seed >>> 0 || 1;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    x[i] = s / 4294967296;
  }
  return x;
}
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

async function main() {
  const files = await fetchModel(new URL(`/models/${MODEL}/`, location.href).href);
  const runners = {};
  const ours1 = (await createEngine({moduleUrl: '/wasm/mlexp.js', threads: 1})).loadModel(files.text, files.shards);
  runners['mlexp 1 thread'] = (x, b) => ours1.predict(x, b);
  let oursThreads = 1;
  if (crossOriginIsolated) {
    const e = await createEngine({moduleUrl: '/wasm/mlexp-threads.js', threads: THREADS});
    oursThreads = e.threads();
    const m = e.loadModel(files.text, files.shards);
    runners[`mlexp ${oursThreads} threads`] = (x, b) => m.predict(x, b);
  }
  tf.wasm.setWasmPaths('/tfjs-wasm/');
  tf.wasm.setThreadsCount(THREADS);
  await tf.setBackend('wasm');
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const tfThreads = tf.backend().wasm.tfjs.getThreadsCount();
  const tfm = await tf.loadLayersModel(`/models/${MODEL}/model.json`);
  const shape = ours1.inputShape, size = ours1.inputSize;
  const tfName = `tfjs-wasm ${simd ? 'simd' : 'plain'} ${tfThreads} thread${tfThreads > 1 ? 's' : ''}`;
  runners[tfName] = (x, b) => {
    const y = tf.tidy(() => tfm.predict(tf.tensor(x, [b, ...shape])));
    const data = y.dataSync();
    y.dispose();
    return data;
  };
  const names = Object.keys(runners);
  log(`cross-origin isolated ${crossOriginIsolated}, tfjs simd ${simd} multithread ${mt}, runners: ${names.join(', ')}`);

  const xMax = uniform(Math.max(...BATCHES) * size, 7);
  // same answers first
  const ref = runners[names[0]](xMax, Math.max(...BATCHES));
  const agreement = {};
  for (const n of names.slice(1)) {
    const y = runners[n](xMax, Math.max(...BATCHES));
    agreement[n] = y.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
  }
  // the pages' way: web/js/worker.js (threaded where isolated) behind EngineClient
  const client = new EngineClient();
  const info = await client.load(MODEL, `/models/${MODEL}/`);
  const viaWorker = await client.predict(MODEL, xMax, Math.max(...BATCHES));
  agreement[`worker.js ${info.threads} thread${info.threads > 1 ? 's' : ''}`] = viaWorker.output.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
  log(`worker.js: ${info.threads} thread(s), ${info.params} parameters, batch ${Math.max(...BATCHES)} in ${viaWorker.ms.toFixed(2)} ms`);
  await client.free(MODEL);
  client.terminate();
  // warm-up
  for (const n of names) for (const b of BATCHES) for (let i = 0; i < 5; i++) runners[n](xMax.subarray(0, b * size), b);
  const times = {};
  for (const n of names) times[n] = Object.fromEntries(BATCHES.map((b) => [b, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]); // take turns going first
    for (const b of BATCHES) {
      const x = xMax.subarray(0, b * size);
      for (const n of order)
        for (let i = 0; i < REPS(b); i++) {
          const t0 = performance.now();
          runners[n](x, b);
          times[n][b].push(performance.now() - t0);
        }
    }
  }
  // where one thread spends its time, per layer
  const profiles = {};
  for (const b of BATCHES) {
    const reps = 4 * REPS(b), x = xMax.subarray(0, b * size);
    ours1.profile(true);
    for (let i = 0; i < reps; i++) ours1.predict(x, b);
    profiles[b] = `mlexp 1 thread, batch ${b}, ${reps} calls:\n${ours1.profileReport()}`;
    ours1.profile(false);
  }
  const result = {model: MODEL, profiles, userAgent: navigator.userAgent, crossOriginIsolated, threads: THREADS, oursThreads,
    tfThreads, simd, agreement, ms: {}, samples: {}};
  for (const n of names) {
    result.ms[n] = Object.fromEntries(BATCHES.map((b) => [b, median(times[n][b])]));
    result.samples[n] = Object.fromEntries(BATCHES.map((b) => [b, times[n][b].length]));
  }
  log(JSON.stringify(result, null, 1));
  window.benchResult = result;
}

main().catch((e) => {
  log(`error: ${e?.stack || e}`);
  window.benchResult = {error: String(e?.stack || e)};
});
