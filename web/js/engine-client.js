// engine-client.js: the promise API pages use; the engine runs in
// web/js/worker.js (docs/web.md).
//
//   const client = new EngineClient();
//   const info = await client.load("digits_cnn", "/models/digits_cnn/");
//   const {output, ms} = await client.predict("digits_cnn", float32Array, batch);
//   await client.free("digits_cnn");

export class EngineClient {
  constructor(workerUrl = new URL('./worker.js', import.meta.url)) {
    this.worker = new Worker(workerUrl, {type: 'module'});
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject}
    this.worker.onmessage = (e) => {
      const {id, ok, error, ...rest} = e.data;
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      if (ok) p.resolve(rest);
      else p.reject(new Error(error));
    };
    // a worker that fails to start (or crashes) fails every waiting call
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      const err = new Error(`engine worker: ${e.message || 'failed to start'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  call(op, fields = {}, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject});
      this.worker.postMessage({id, op, ...fields}, transfer);
    });
  }

  // -> {inputShape, outputShape, summary, params}
  load(key, url) {
    return this.call('load', {key, url});
  }

  // input: preprocessed floats (batch x input size), copied -> {output, ms}
  predict(key, input, batch = 1) {
    const copy = Float32Array.from(input);
    return this.call('predict', {key, input: copy, batch}, [copy.buffer]);
  }

  free(key) {
    return this.call('free', {key});
  }

  terminate() {
    this.worker.terminate();
    const err = new Error('engine worker terminated');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
