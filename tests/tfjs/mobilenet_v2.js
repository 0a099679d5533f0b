// mobilenet_v2.js OUTDIR [--size 224] [--classes 1000] [--seed N]
// Keras's MobileNetV2 (alpha 1.0, include_top, softmax head), built with the
// TF.js layers API with the layer names and configs of Keras 2's
// keras/applications/mobilenet_v2.py, with seeded random weights. Writes to
// OUTDIR: the model (shards of at most 4 MiB), metadata.json, x.npy (batch 2
// in [-1, 1]), y.npy (TF.js's prediction) and counts.json.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const npy = require('./npy');
const { tf, rng, uniformArray, size } = require('./common');
const { randomizeWeights, paramCounts, saveModel, predictToNpy, main } = require('./common');

const L = tf.layers;

// Keras's _make_divisible: round to a multiple of 8, never down by more than 10%
function makeDivisible(v, divisor = 8) {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

// imagenet_utils.correct_pad for a 3x3 window: ((1 - adjust, 1), ...) with
// adjust = 1 - size % 2, i.e. TF's 'same' padding of a stride-2 window
function correctPad(h, w) {
  return [[h % 2, 1], [w % 2, 1]];
}

const bn = name => L.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
const relu6 = name => L.reLU({ maxValue: 6, name });
const pointwise = (filters, name) =>
  L.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false, activation: null, name });

function invertedResBlock(inputs, expansion, stride, filters, blockId) {
  const inChannels = inputs.shape[3];
  const pointwiseFilters = makeDivisible(Math.trunc(filters * 1.0));
  let x = inputs;
  let prefix = `block_${blockId}_`;
  if (blockId) {
    x = pointwise(expansion * inChannels, `${prefix}expand`).apply(x);
    x = bn(`${prefix}expand_BN`).apply(x);
    x = relu6(`${prefix}expand_relu`).apply(x);
  } else {
    prefix = 'expanded_conv_';
  }
  if (stride === 2) x = L.zeroPadding2d({ padding: correctPad(x.shape[1], x.shape[2]), name: `${prefix}pad` }).apply(x);
  x = L.depthwiseConv2d({
    kernelSize: 3, strides: stride, activation: null, useBias: false, padding: stride === 1 ? 'same' : 'valid',
    name: `${prefix}depthwise`,
  }).apply(x);
  x = bn(`${prefix}depthwise_BN`).apply(x);
  x = relu6(`${prefix}depthwise_relu`).apply(x);
  x = pointwise(pointwiseFilters, `${prefix}project`).apply(x);
  x = bn(`${prefix}project_BN`).apply(x);
  if (inChannels === pointwiseFilters && stride === 1) return L.add({ name: `${prefix}add` }).apply([inputs, x]);
  return x;
}

function mobileNetV2(rows, classes) {
  const input = tf.input({ shape: [rows, rows, 3], name: 'input_1' });
  let x = L.conv2d({ filters: makeDivisible(32), kernelSize: 3, strides: 2, padding: 'same', useBias: false,
    name: 'Conv1' }).apply(input);
  x = bn('bn_Conv1').apply(x);
  x = relu6('Conv1_relu').apply(x);
  // [filters, stride, expansion] of blocks 0 ... 16
  const blocks = [[16, 1, 1], [24, 2, 6], [24, 1, 6], [32, 2, 6], [32, 1, 6], [32, 1, 6], [64, 2, 6], [64, 1, 6],
    [64, 1, 6], [64, 1, 6], [96, 1, 6], [96, 1, 6], [96, 1, 6], [160, 2, 6], [160, 1, 6], [160, 1, 6], [320, 1, 6]];
  blocks.forEach(([filters, stride, expansion], id) => (x = invertedResBlock(x, expansion, stride, filters, id)));
  x = L.conv2d({ filters: 1280, kernelSize: 1, useBias: false, name: 'Conv_1' }).apply(x);
  x = bn('Conv_1_bn').apply(x);
  x = relu6('out_relu').apply(x);
  x = L.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x);
  x = L.dense({ units: classes, activation: 'softmax', name: 'predictions' }).apply(x);
  return tf.model({ inputs: input, outputs: x, name: `mobilenetv2_1.00_${rows}` });
}

// The 1000 ImageNet labels of OpenCV's samples, where this machine has them.
function imagenetLabels(classes) {
  const candidates = [path.join(__dirname, '../../data/classification_classes_ILSVRC2012.txt')];
  const walk = dir => {
    let entries = [];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch (e) { return; }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/^classification_classes_ILSVRC2012\.txt(\.gz)?$/.test(e.name)) candidates.push(p);
    }
  };
  walk('/usr/share/doc/opencv-doc');
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    let text = fs.readFileSync(file);
    if (file.endsWith('.gz')) text = zlib.gunzipSync(text);
    const labels = text.toString('utf8').split('\n').map(s => s.trim()).filter(s => s);
    if (labels.length === classes) return labels;
  }
  return Array.from({ length: classes }, (_, i) => `class_${i}`);
}

// Kernel gains: He (2) where a ReLU6 comes before the kernel, 1 where a linear
// bottleneck (block input) does, so activations stay O(1) through 150 layers;
// the classifier's 4 makes the softmax peaked enough for a parity test to see.
function gainOf(name) {
  if (/^predictions\//.test(name)) return 4;
  if (/(_expand|^Conv1)\//.test(name)) return 1;
  return 2;
}

const USAGE = 'usage: mobilenet_v2.js OUTDIR [--size 224] [--classes 1000] [--seed N]';

main(async () => {
  const args = process.argv.slice(2);
  const opt = { size: 224, classes: 1000, seed: 1 };
  let dir = null;
  for (let i = 0; i < args.length; i++) {
    const m = /^--(size|classes|seed)$/.exec(args[i]);
    if (m && i + 1 < args.length) opt[m[1]] = Number(args[++i]);
    else if (!args[i].startsWith('--') && !dir) dir = args[i];
    else throw new Error(`${USAGE} (bad argument '${args[i]}')`);
  }
  if (!dir || !(opt.size >= 32) || !(opt.classes >= 1)) throw new Error(USAGE);

  const model = mobileNetV2(opt.size, opt.classes);
  const r = rng(opt.seed);
  randomizeWeights(model, r, gainOf);
  await saveModel(model, dir);
  const meta = {
    input: {
      shape: [opt.size, opt.size, 3],
      preprocessing: { scale: 0.00784313725490196, offset: -1 }, // pixels 0..255 to [-1, 1]
      resize: 'bilinear',
    },
    classes: imagenetLabels(opt.classes),
  };
  fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify(meta, null, 1) + '\n');
  const counts = paramCounts(model);
  fs.writeFileSync(path.join(dir, 'counts.json'), JSON.stringify(counts) + '\n');
  const shape = [2, opt.size, opt.size, 3];
  const x = { shape, data: uniformArray(r, size(shape), -1, 1) };
  npy.save(path.join(dir, 'x.npy'), shape, x.data);
  predictToNpy(model, [x], path.join(dir, 'y.npy'));
  console.log(`${model.name}: ${model.layers.length} layers, ${counts.total} parameters ` +
    `(${counts.trainable} trainable, ${counts.non_trainable} non-trainable)`);
});
