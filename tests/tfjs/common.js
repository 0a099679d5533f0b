// common.js: what make_model.js, predict.js and mobilenet_v2.js share: TF.js
// itself, a seeded PRNG, seeded weights, and model directories on disk
// (plain @tensorflow/tfjs in node has no file IO handler).
'use strict';
const fs = require('fs');
const path = require('path');
const npy = require('./npy');

// The CPU backend greets node users once on stderr; the tests keep stderr for errors.
const warn = console.warn;
console.warn = (...args) => {
  if (!String(args[0]).includes('looks like you are running TensorFlow.js in Node.js')) warn(...args);
};
const tf = require('@tensorflow/tfjs');

const SHARD_BYTES = 4 * 1024 * 1024; // as the TF.js converter and mlexp split shards

// mulberry32: small, fast, and the same numbers on every machine.
function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, uniform: (lo, hi) => lo + (hi - lo) * next() };
}

// FNV-1a: a seed from a case name, so each case has its own numbers.
function hash(str) {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(str)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h;
}

function uniformArray(r, n, lo, hi) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.uniform(lo, hi);
  return a;
}

const size = shape => shape.reduce((a, b) => a * b, 1);

// Fan-in of a kernel: every axis but the output one; a depthwise kernel
// (kh, kw, cin, multiplier) only sees its kh * kw window.
function fanIn(kind, shape) {
  if (kind === 'depthwise_kernel') return shape[0] * shape[1];
  return size(shape.slice(0, -1));
}

// Values for one weight, chosen by its kind (the last part of its name) so
// every weight is non-trivial: kernels uniform with variance gain / fan_in
// (He for gain 2), biases and BatchNormalization statistics away from their
// initial 0 / 1, moving variances positive.
function weightValues(r, name, shape, gain = 2) {
  const kind = name.replace(/:\d+$/, '').split('/').pop();
  const n = size(shape);
  switch (kind) {
    case 'kernel':
    case 'depthwise_kernel':
    case 'pointwise_kernel': {
      const lim = Math.sqrt((3 * gain) / fanIn(kind, shape));
      return uniformArray(r, n, -lim, lim);
    }
    case 'recurrent_kernel': { // gain 1: states stay away from saturation over the steps
      const lim = Math.sqrt(3 / shape[0]);
      return uniformArray(r, n, -lim, lim);
    }
    case 'embeddings': return uniformArray(r, n, -1, 1);
    case 'bias': return uniformArray(r, n, -0.5, 0.5);
    case 'gamma': return uniformArray(r, n, 0.5, 1.5);
    case 'beta': return uniformArray(r, n, -0.5, 0.5);
    case 'moving_mean': return uniformArray(r, n, -0.5, 0.5);
    case 'moving_variance': return uniformArray(r, n, 0.5, 1.5);
    case 'alpha': return uniformArray(r, n, -0.3, 0.6); // PReLU slopes, some negative
    default: throw new Error(`no rule for weight '${name}'`);
  }
}

// Set every weight of the model (nested models included) from the PRNG, in
// model.weights order. gainOf(name) may change a kernel's gain.
function randomizeWeights(model, r, gainOf = () => 2) {
  const values = model.weights.map(w => {
    const name = w.originalName || w.name;
    return tf.tensor(weightValues(r, name, w.shape, gainOf(name)), w.shape);
  });
  model.setWeights(values);
  values.forEach(t => t.dispose());
}

function paramCounts(model) {
  const count = ws => ws.reduce((a, w) => a + size(w.shape), 0);
  const trainable = count(model.trainableWeights), nonTrainable = count(model.nonTrainableWeights);
  return { trainable, non_trainable: nonTrainable, total: model.countParams() };
}

// Write model.json and shards of at most 4 MiB into dir.
async function saveModel(model, dir) {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async artifacts => {
    const data = Buffer.from(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
    const n = Math.max(1, Math.ceil(data.length / SHARD_BYTES));
    const paths = [];
    for (let i = 0; i < n; i++) {
      paths.push(`group1-shard${i + 1}of${n}.bin`);
      fs.writeFileSync(path.join(dir, paths[i]), data.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES));
    }
    const json = {
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
    };
    if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: data.length } };
  }));
}

// Load a model directory as TF.js's file handlers would: every group's shards
// back to back, groups in manifest order; strict (every weight must match).
async function loadModel(dir) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const weightSpecs = [], buffers = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
  return tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs, weightData, trainingConfig: json.trainingConfig,
  }));
}

// Predict and write output 0 as .npy; xs is a list of {shape, data}.
function predictToNpy(model, xs, file) {
  const inputs = xs.map(x => tf.tensor(x.data, x.shape));
  let y = model.predict(inputs.length === 1 ? inputs[0] : inputs);
  if (Array.isArray(y)) y = y[0];
  npy.save(file, y.shape, y.dataSync());
  return y;
}

// Report the error and exit non-zero (the C tests show stderr).
function main(fn) {
  fn().catch(e => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  });
}

module.exports = {
  tf, rng, hash, uniformArray, size, randomizeWeights, paramCounts, saveModel, loadModel, predictToNpy, main,
};
