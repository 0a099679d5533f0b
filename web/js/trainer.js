// trainer.js: a model being trained in the worker on data the page sent
// once (docs/web.md, the playground's ops). Used by worker-handler.js; node
// tests drive it directly. Every number it reports comes from the engine:
// losses of training steps (mx_train_batch) and of whole sets with their
// right predictions (mx_test_batch); this file only draws the batches.
//
//   const t = new Trainer(model, {loss: "binary_crossentropy", seed: 1});
//   t.setData("train", x, y);  t.setData("test", x2, y2);
//   const {losses} = t.train(10, 16);      // 10 optimizer steps of 16 samples
//   const {loss, accuracy} = t.evaluate("test");

import {rng} from './toydata.js';

export class Trainer {
  // model: a compiled engine Model (one input, one output); loss: the name
  // it was compiled with (how its predictions are counted); seed: the order
  // in which samples are drawn
  constructor(model, {loss, seed = 1}) {
    this.model = model;
    this.perTarget = model.targetSize; // floats of targets per sample
    // predictions per sample, as the engine counts them right or wrong:
    // every output for binary crossentropy, else one per row of the last axis
    const last = model.outputShape.length ? model.outputShape[model.outputShape.length - 1] : 1;
    this.perSample = loss === 'binary_crossentropy' ? model.outputSize : model.outputSize / last;
    this.sets = new Map(); // name -> {x, y, n}
    this.rand = rng(seed);
    this.step = 0; // optimizer steps taken
    this.seen = 0; // samples trained on: seen / n is the epoch
    this.order = null; // the shuffled training indices, and where we are in them
    this.at = 0;
    this.batch = null; // {size, x, y}: the current batch's samples
    this.planned = 0; // the engine's memory is planned for this many samples
  }

  // Plan the engine's memory once for the largest of the sets and batches,
  // training included, so that steps, tests and predictions of the sets
  // do not plan (allocate) again each time they alternate.
  plan(size) {
    const need = Math.max(size, ...[...this.sets.values()].map((d) => d.n));
    if (need > this.planned) {
      this.model.plan(need, true);
      this.planned = need;
    }
  }

  // a named set of n samples: x (n x input size), y (n x targets per sample)
  setData(name, x, y) {
    if (typeof name !== 'string' || !name) throw new Error('data: name must be a non-empty string');
    x = Float32Array.from(x);
    const n = x.length / this.model.inputSize;
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`data '${name}': ${x.length} input values are not a whole number of samples of ${this.model.inputSize}`);
    if (y != null) {
      y = Float32Array.from(y);
      if (y.length !== n * this.perTarget)
        throw new RangeError(`data '${name}': ${y.length} targets for ${n} samples (${this.perTarget} each)`);
    }
    this.sets.set(name, {x, y: y ?? null, n});
    if (name === 'train') this.order = null;
    this.plan(n);
    return n;
  }

  set(name, needTargets) {
    const s = this.sets.get(name);
    if (!s) throw new Error(`no data '${name}' (send it with the data op)`);
    if (needTargets && !s.y) throw new Error(`data '${name}' has no targets`);
    return s;
  }

  // the next `size` samples of the training set, reshuffled at every pass
  nextBatch(d, size) {
    if (!this.order || this.order.length !== d.n) {
      this.order = Uint32Array.from({length: d.n}, (_, i) => i);
      this.at = d.n;
    }
    if (!this.batch || this.batch.size !== size)
      this.batch = {size, x: new Float32Array(size * this.model.inputSize), y: new Float32Array(size * this.perTarget)};
    const {x, y} = this.batch, ki = this.model.inputSize, kt = this.perTarget;
    for (let b = 0; b < size; b++) {
      if (this.at >= d.n) {
        for (let i = d.n - 1; i > 0; i--) { // Fisher-Yates
          const j = Math.floor(this.rand.next() * (i + 1));
          [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
        }
        this.at = 0;
      }
      const s = this.order[this.at++];
      x.set(d.x.subarray(s * ki, (s + 1) * ki), b * ki);
      y.set(d.y.subarray(s * kt, (s + 1) * kt), b * kt);
    }
    return this.batch;
  }

  // `steps` optimizer steps on batches of `batch` samples of set `data`
  // (at most its size) -> {losses: Float32Array (the engine's loss of each
  // batch, regularization included), step, epoch, ms}
  train(steps, batch, data = 'train') {
    if (!Number.isInteger(steps) || steps < 1 || steps > 100000) throw new RangeError(`train: steps must be 1 to 100000, got ${steps}`);
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`train: batch must be a positive integer, got ${batch}`);
    const d = this.set(data, true), size = Math.min(batch, d.n);
    this.plan(size);
    const losses = new Float32Array(steps);
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) {
      const b = this.nextBatch(d, size);
      losses[s] = this.model.trainBatch(b.x, b.y, size);
      this.step++;
      this.seen += size;
    }
    return {losses, step: this.step, epoch: this.seen / d.n, ms: performance.now() - t0};
  }

  // the outputs of a stored set (n x output size)
  predict(data) {
    const d = this.set(data, false);
    return this.model.predict(d.x, d.n);
  }

  // -> {loss (the compiled loss with regularization, mean over the set),
  // accuracy, correct, n}: the engine's test of the whole set as one batch
  evaluate(data) {
    const d = this.set(data, true);
    const {loss, correct} = this.model.testBatch(d.x, d.y, d.n);
    return {loss, accuracy: correct / (d.n * this.perSample), correct, n: d.n};
  }
}
