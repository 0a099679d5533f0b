// engine-client.js: the promise API pages use; the engine runs in
// web/js/worker.js (docs/web.md).
//
//   const client = new EngineClient();
//   const info = await client.load("digits_cnn", "/models/digits_cnn/");
//   const {output, ms} = await client.predict("digits_cnn", float32Array, batch);
//   await client.free("digits_cnn");
// The playground's training and the backprop page's trace:
//   await client.create("net", {config, seed, loss, optimizer});
//   await client.data("net", "train", x, y);
//   const {losses, step} = await client.train("net", {steps: 25, batch: 10});
//   const {loss, accuracy} = await client.evaluate("net", "test");
//   const {output} = await client.predict("net", null, 0, {data: "grid"});
//   const {trace} = await client.explain(descriptionText, {origin: "sigmoid_221.json"});

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

  // input: preprocessed floats (batch x input size), copied -> {output, ms};
  // or {data: name}: the outputs of a set stored with data()
  predict(key, input, batch = 1, {data} = {}) {
    if (data != null) return this.call('predict', {key, data});
    const copy = Float32Array.from(input);
    return this.call('predict', {key, input: copy, batch}, [copy.buffer]);
  }

  // a model from a Keras config, compiled; a key's data stays when its
  // model is made again -> {inputShape, outputShape, summary, params, weights}
  create(key, {config, seed = 1, loss = 'binary_crossentropy', optimizer = 'adam'}) {
    return this.call('create', {key, config, seed, loss, optimizer});
  }

  // store samples in the worker once: x (n x input size), y (targets) -> {n}
  data(key, name, x, y) {
    const cx = Float32Array.from(x), cy = y == null ? null : Float32Array.from(y);
    return this.call('data', {key, name, x: cx, y: cy}, cy ? [cx.buffer, cy.buffer] : [cx.buffer]);
  }

  // steps optimizer steps on batches of the stored set -> {losses, step, epoch, ms}
  train(key, {steps = 1, batch = 32, data = 'train'} = {}) {
    return this.call('train', {key, steps, batch, data});
  }

  // the engine's loss (with regularization) and accuracy of a stored set,
  // tested as one batch -> {loss, accuracy, correct, n}
  evaluate(key, data = 'test') {
    return this.call('evaluate', {key, data});
  }

  // -> {weights: Float32Array}
  weights(key) {
    return this.call('weights', {key});
  }

  // the trace of a network description (docs/explain.md) -> {trace, ms}
  explain(description, {steps = 0, precision = 0, origin = 'network.json'} = {}) {
    return this.call('explain', {description, steps, precision, origin});
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
