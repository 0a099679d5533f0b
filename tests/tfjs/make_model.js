// make_model.js CASE OUTDIR | --list
// Builds the model named CASE with the TF.js layers API, sets every weight
// from a PRNG seeded by the case name, and writes to OUTDIR: the model
// (model.json + shards), x.npy (batch 3, uniform; x1.npy ... for more
// inputs), y.npy (TF.js's prediction) and counts.json (parameter counts).
// Used by tests/test_tfjs.c, which loads the model into mlexp and compares.
'use strict';
const fs = require('fs');
const path = require('path');
const npy = require('./npy');
const { tf, rng, hash, uniformArray, size } = require('./common');
const { randomizeWeights, paramCounts, saveModel, predictToNpy, main } = require('./common');

const L = tf.layers;
const BATCH = 3;
const IMG = [8, 8, 3];

// One layer (or a few) after an 8x8x3 image, as a Sequential model.
const seq = (layers, inputShape = IMG) => () => {
  const m = tf.sequential();
  m.add(L.inputLayer({ inputShape }));
  for (const l of layers()) m.add(l);
  return m;
};

// Functional model of one input: body(x) returns the output tensor.
const fn = (body, inputShape = IMG) => () => {
  const x = tf.input({ shape: inputShape, name: 'x' });
  return tf.model({ inputs: x, outputs: body(x), name: 'model' });
};

// Each case: build() -> model; x: the range of its input values; patch(layers):
// an edit of the saved config, for what TF.js fails to write; int: inputs
// are whole numbers in [x0, x1) (indices for Embedding).
const cases = {};
const add = (name, build, x = [-1, 1], patch = null, int = false) => (cases[name] = { build, x, patch, int });

// ---- Dense, convolutions, pooling ----
// inputShape on the first layer: a Sequential config without InputLayer
add('dense', () => tf.sequential({ layers: [L.dense({ units: 6, activation: 'relu', inputShape: [10] })] }));
add('dense_nobias', seq(() => [L.dense({ units: 4, useBias: false, activation: 'tanh' })], [7]));
add('dense_rank3', seq(() => [L.dense({ units: 3 })], [4, 5]));
add('conv2d_same_s2', seq(() => [L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' })]));
add('conv2d_same_s2_odd', seq(() => [L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' })], [9, 9, 3]));
add('conv2d_rect', seq(() => [L.conv2d({ filters: 5, kernelSize: [2, 3], strides: [1, 2], padding: 'same',
  activation: 'relu' })]));
add('conv2d_valid_dilated', seq(() => [L.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'valid' })]));
add('conv2d_nobias_relu6', seq(() => [L.conv2d({ filters: 6, kernelSize: 3, useBias: false, activation: 'relu6' })]),
  [-4, 4]);
add('conv2d_1x1', seq(() => [L.conv2d({ filters: 7, kernelSize: 1 })]));
add('maxpool_valid', seq(() => [L.maxPooling2d({ poolSize: 2 })]));
add('maxpool_same', seq(() => [L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' })]));
add('avgpool_valid_s1', seq(() => [L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'valid' })]));
// TF averages over the window's inside part only: the edges tell
add('avgpool_same', seq(() => [L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' })]));
add('batchnorm', seq(() => [L.batchNormalization({})]));
add('batchnorm_options', seq(() => [L.batchNormalization({ epsilon: 0.01, scale: false })]));
add('batchnorm_dense', seq(() => [L.dense({ units: 5 }), L.batchNormalization({ momentum: 0.9 })], [6]));
add('dropout', seq(() => [L.dense({ units: 8, activation: 'relu' }), L.dropout({ rate: 0.5 }), L.dense({ units: 3 })],
  [6]));
add('flatten_reshape', seq(() => [L.flatten(), L.reshape({ targetShape: [6, 8] }), L.dense({ units: 2 })], [4, 4, 3]));
// last: TF.js leaves a -1 dimension unknown in the shapes that follow
add('reshape_infer', seq(() => [L.reshape({ targetShape: [-1, 4] })], [4, 4, 3]));

// ---- activations: an Activation layer on wide inputs (saturation, clipping) ----
const ACTIVATIONS = ['relu', 'relu6', 'elu', 'selu', 'sigmoid', 'tanh', 'softmax', 'softplus', 'softsign',
  'hardSigmoid', 'linear', 'swish', 'gelu'];
for (const a of ACTIVATIONS)
  add(`activation_${a}`, seq(() => [L.activation({ activation: a })], [4, 6]), [-8, 8]);

// ---- the layers of MobileNet-like models ----
add('depthwise_same', seq(() => [L.depthwiseConv2d({ kernelSize: 3, padding: 'same' })]));
add('depthwise_valid_s2_mult2', seq(() => [L.depthwiseConv2d({ kernelSize: 3, strides: 2, depthMultiplier: 2,
  padding: 'valid' })]));
add('separable', seq(() => [L.separableConv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu' })]));
// TF.js 4.22 leaves depth_multiplier out of SeparableConv2D's config (it cannot
// load such a model itself): patch it in, as Keras writes it
add('separable_mult2', seq(() => [L.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, strides: 2,
  padding: 'same' })]), [-1, 1], layers => Object.assign(layers[1].config, { depth_multiplier: 2 }));
add('zeropad', seq(() => [L.zeroPadding2d({ padding: [[1, 2], [0, 3]] })]));
add('cropping', seq(() => [L.cropping2D({ cropping: [[1, 0], [2, 1]] })]));
add('upsampling_nearest', seq(() => [L.upSampling2d({ size: [2, 3] })]));
add('upsampling_bilinear', seq(() => [L.upSampling2d({ size: [2, 2], interpolation: 'bilinear' })]));
add('gap', seq(() => [L.globalAveragePooling2d({})]));
add('gmp', seq(() => [L.globalMaxPooling2d({})]));
// TF.js's ReLU layer has max_value only (no negative_slope or threshold)
add('relu_layer_maxvalue', seq(() => [L.reLU({ maxValue: 2.5 })]), [-4, 4]);
add('leakyrelu', seq(() => [L.leakyReLU({ alpha: 0.1 })]));
add('prelu', seq(() => [L.prelu({})]));
add('prelu_shared_axes', seq(() => [L.prelu({ sharedAxes: [1, 2] })]));
// TF.js's Softmax layer defaults to axis 1 (Keras: -1) and handles the last axis only
add('softmax_layer', seq(() => [L.softmax({ axis: -1 })]), [-4, 4]);
add('softmax_layer_default', seq(() => [L.softmax({})], [6]), [-4, 4]);

// ---- merges: branches of one input ----
const conv = (filters, name, opts = {}) => L.conv2d({ filters, kernelSize: 3, padding: 'same', name, ...opts });
add('add', fn(x => L.add({ name: 'sum' }).apply([x, conv(3, 'a').apply(x), conv(3, 'b').apply(x)])));
add('multiply', fn(x => L.multiply({ name: 'product' }).apply([conv(3, 'a').apply(x), conv(3, 'b').apply(x)])));
add('average', fn(x => L.average({ name: 'mean' }).apply([x, conv(3, 'a').apply(x), conv(3, 'b').apply(x)])));
add('concat_last', fn(x => L.concatenate({ name: 'cat' }).apply([conv(4, 'a').apply(x), x])));
add('concat_axis1', fn(x => L.concatenate({ axis: 1, name: 'cat' }).apply(
  [x, L.conv2d({ filters: 3, kernelSize: [3, 1], name: 'a' }).apply(x)])));
add('permute', seq(() => [L.permute({ dims: [3, 1, 2] }), L.dense({ units: 2 })], [4, 6, 3]));

// ---- composites ----
add('residual_block', fn(x => {
  let h = x;
  for (const i of [1, 2]) {
    h = conv(4, `conv${i}`, { useBias: false }).apply(h);
    h = L.batchNormalization({ name: `bn${i}` }).apply(h);
    if (i === 1) h = L.activation({ activation: 'relu', name: 'relu1' }).apply(h);
  }
  h = L.add({ name: 'skip' }).apply([x, h]);
  return L.activation({ activation: 'relu', name: 'relu2' }).apply(h);
}, [8, 8, 4]));

// MobileNetV2's inverted residual, as keras/applications/mobilenet_v2.py writes it
function invertedResidual(x, inC, expansion, outC, stride, p) {
  const bn = name => L.batchNormalization({ epsilon: 1e-3, momentum: 0.999, name });
  const pointwise = (filters, name) => L.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false, name });
  let h = pointwise(inC * expansion, `${p}expand`).apply(x);
  h = bn(`${p}expand_BN`).apply(h);
  h = L.reLU({ maxValue: 6, name: `${p}expand_relu` }).apply(h);
  if (stride === 2) h = L.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: `${p}pad` }).apply(h);
  h = L.depthwiseConv2d({ kernelSize: 3, strides: stride, useBias: false, padding: stride === 2 ? 'valid' : 'same',
    name: `${p}depthwise` }).apply(h);
  h = bn(`${p}depthwise_BN`).apply(h);
  h = L.reLU({ maxValue: 6, name: `${p}depthwise_relu` }).apply(h);
  h = pointwise(outC, `${p}project`).apply(h);
  h = bn(`${p}project_BN`).apply(h);
  return stride === 1 && inC === outC ? L.add({ name: `${p}add` }).apply([x, h]) : h;
}
add('mobilenet_block', fn(x => {
  const h = invertedResidual(x, 4, 3, 8, 2, 'block_1_');
  return invertedResidual(h, 8, 3, 8, 1, 'block_2_');
}, [8, 8, 4]));

add('nested', () => {
  const inner = tf.sequential({
    name: 'inner',
    layers: [
      L.dense({ units: 8, activation: 'relu', inputShape: [6], name: 'inner_dense1' }),
      L.dense({ units: 4, name: 'inner_dense2' }),
    ],
  });
  const x = tf.input({ shape: [5], name: 'x' });
  const h = L.dense({ units: 6, activation: 'tanh', trainable: false, name: 'frozen' }).apply(x);
  const y = L.dense({ units: 3, activation: 'softmax', name: 'head' }).apply(inner.apply(h));
  return tf.model({ inputs: x, outputs: y, name: 'outer' });
});

add('nested_functional', () => {
  const a = tf.input({ shape: [8, 8, 3], name: 'inner_x' });
  const b = L.batchNormalization({ name: 'inner_bn' }).apply(conv(4, 'inner_conv').apply(a));
  const inner = tf.model({ inputs: a, outputs: b, name: 'inner' });
  const x = tf.input({ shape: IMG, name: 'x' });
  const h = L.globalAveragePooling2d({ name: 'gap' }).apply(inner.apply(x));
  return tf.model({ inputs: x, outputs: L.dense({ units: 2, name: 'head' }).apply(h), name: 'outer' });
});

// transfer learning's pattern: a whole base model frozen (its BatchNormalization
// too). Keras writes trainable: false into every inner layer's config; TF.js's
// model.trainable = false would not, so each layer is frozen itself.
add('nested_frozen', () => {
  const a = tf.input({ shape: [8, 8, 3], name: 'base_x' });
  let b = conv(4, 'base_conv', { useBias: false }).apply(a);
  b = L.reLU({ maxValue: 6, name: 'base_relu' }).apply(L.batchNormalization({ name: 'base_bn' }).apply(b));
  const base = tf.model({ inputs: a, outputs: b, name: 'base' });
  base.layers.forEach(l => (l.trainable = false));
  const x = tf.input({ shape: IMG, name: 'x' });
  const h = L.globalAveragePooling2d({ name: 'pool' }).apply(base.apply(x));
  const y = L.dense({ units: 3, activation: 'softmax', name: 'classes' }).apply(h);
  return tf.model({ inputs: x, outputs: y, name: 'transfer' });
});

add('multi_input', () => {
  const a = tf.input({ shape: [8, 8, 3], name: 'image' });
  const b = tf.input({ shape: [8, 8, 2], name: 'mask' });
  let h = L.concatenate({ name: 'cat' }).apply([a, b]);
  h = conv(4, 'conv', { activation: 'relu' }).apply(h);
  h = L.globalAveragePooling2d({ name: 'gap' }).apply(h);
  return tf.model({ inputs: [a, b], outputs: L.dense({ units: 3, name: 'head' }).apply(h), name: 'two_inputs' });
});

// ---- recurrent layers; TF.js has no GRU with reset_after (PyTorch checks that) ----
const SEQ = [5, 4];
add('simple_rnn', seq(() => [L.simpleRNN({ units: 3 })], SEQ));
add('simple_rnn_seq_backwards', seq(() => [L.simpleRNN({ units: 3, returnSequences: true, goBackwards: true,
  activation: 'relu' })], SEQ));
add('lstm', seq(() => [L.lstm({ units: 4, recurrentActivation: 'sigmoid' })], SEQ));
// TF.js's own defaults: hard_sigmoid gates, unit_forget_bias null
add('lstm_tfjs_defaults', seq(() => [L.lstm({ units: 4, returnSequences: true })], SEQ));
add('lstm_backwards_nobias', seq(() => [L.lstm({ units: 3, goBackwards: true, returnSequences: true, useBias: false,
  recurrentActivation: 'sigmoid' })], SEQ));
add('lstm_stacked', seq(() => [L.lstm({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid' }),
  L.lstm({ units: 3, recurrentActivation: 'sigmoid' }), L.dense({ units: 2 })], SEQ));
add('gru', seq(() => [L.gru({ units: 4, recurrentActivation: 'sigmoid' })], SEQ));
add('gru_seq_backwards', seq(() => [L.gru({ units: 3, returnSequences: true, goBackwards: true })], SEQ));
add('lstm_return_state', fn(x => {
  const [y, h, c] = L.lstm({ units: 3, returnSequences: true, returnState: true, recurrentActivation: 'sigmoid',
    name: 'lstm' }).apply(x);
  return L.concatenate({ name: 'cat' }).apply([L.flatten({ name: 'flat' }).apply(y), h, c]);
}, SEQ));
add('lstm_initial_state', () => {
  const x = tf.input({ shape: SEQ, name: 'x' }), h0 = tf.input({ shape: [3], name: 'h0' });
  const c0 = tf.input({ shape: [3], name: 'c0' });
  const y = L.lstm({ units: 3, recurrentActivation: 'sigmoid', name: 'lstm' }).apply(x, { initialState: [h0, c0] });
  return tf.model({ inputs: [x, h0, c0], outputs: y, name: 'with_state' });
});
add('gru_encoder_decoder', () => { // the encoder's final state starts the decoder
  const x = tf.input({ shape: SEQ, name: 'x' });
  const [, h] = L.gru({ units: 3, returnState: true, name: 'encoder' }).apply(x);
  const y = L.gru({ units: 3, returnSequences: true, name: 'decoder' }).apply(x, { initialState: [h] });
  return tf.model({ inputs: x, outputs: y, name: 'seq2seq' });
});
add('lstm_stateful', () => tf.sequential({ layers: [L.lstm({ units: 3, stateful: true, returnSequences: true,
  recurrentActivation: 'sigmoid', batchInputShape: [BATCH, ...SEQ] })] }));
add('bidirectional_concat', seq(() => [L.bidirectional({ layer: L.lstm({ units: 3, returnSequences: true,
  recurrentActivation: 'sigmoid' }) })], SEQ));
add('bidirectional_sum', seq(() => [L.bidirectional({ layer: L.gru({ units: 3 }), mergeMode: 'sum' })], SEQ));
add('bidirectional_mul', seq(() => [L.bidirectional({ layer: L.simpleRNN({ units: 3, returnSequences: true }),
  mergeMode: 'mul' })], SEQ));
add('bidirectional_ave', seq(() => [L.bidirectional({ layer: L.lstm({ units: 2 }), mergeMode: 'ave' })], SEQ));
add('bidirectional_none', fn(x => L.concatenate({ name: 'cat' }).apply(
  L.bidirectional({ layer: L.gru({ units: 2, returnSequences: true }), mergeMode: null, name: 'bi' }).apply(x)), SEQ));
add('time_distributed_dense', seq(() => [L.lstm({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid' }),
  L.timeDistributed({ layer: L.dense({ units: 3, activation: 'softmax' }) })], SEQ));
add('time_distributed_conv', seq(() => [L.timeDistributed({ layer: L.conv2d({ filters: 2, kernelSize: 3,
  padding: 'same', activation: 'relu' }) })], [3, 6, 6, 2]));
add('repeat_vector', seq(() => [L.dense({ units: 4 }), L.repeatVector({ n: 3 }),
  L.lstm({ units: 2, returnSequences: true, recurrentActivation: 'sigmoid' })], [5]));
add('embedding', seq(() => [L.embedding({ inputDim: 10, outputDim: 4 }), L.simpleRNN({ units: 3 })], [6]), [0, 10],
  null, true);
add('embedding_input_length', seq(() => [L.embedding({ inputDim: 7, outputDim: 3, inputLength: 5 }), L.flatten(),
  L.dense({ units: 2 })], [5]), [0, 7], null, true);
// the sequence-to-sequence model in small
add('seq2seq_summation', seq(() => [L.lstm({ units: 8, recurrentActivation: 'sigmoid' }), L.repeatVector({ n: 3 }),
  L.lstm({ units: 8, returnSequences: true, recurrentActivation: 'sigmoid' }),
  L.timeDistributed({ layer: L.dense({ units: 12 }) }), L.activation({ activation: 'softmax' })], [7, 12]));

// ---- transposed convolutions ----
add('conv2d_transpose_same', seq(() => [L.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' })]));
add('conv2d_transpose_valid', seq(() => [L.conv2dTranspose({ filters: 2, kernelSize: [3, 2], strides: [2, 3],
  padding: 'valid', activation: 'relu' })]));
add('conv2d_transpose_small_kernel', seq(() => [L.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 3,
  useBias: false })]));

main(async () => {
  const [name, dir] = process.argv.slice(2);
  if (name === '--list') {
    console.log(Object.keys(cases).join('\n'));
    return;
  }
  if (!cases[name] || !dir) throw new Error(`usage: make_model.js CASE OUTDIR | --list (unknown case '${name}')`);
  const c = cases[name];
  const model = c.build();
  const r = rng(hash(name));
  randomizeWeights(model, r);
  await saveModel(model, dir);
  if (c.patch) {
    const file = path.join(dir, 'model.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    c.patch(json.modelTopology.config.layers);
    fs.writeFileSync(file, JSON.stringify(json));
  }
  const xs = model.inputs.map((input, i) => {
    const shape = [BATCH, ...input.shape.slice(1)];
    const x = { shape, data: uniformArray(r, size(shape), c.x[0], c.x[1]) };
    if (c.int) x.data = x.data.map(Math.floor);
    npy.save(path.join(dir, i ? `x${i}.npy` : 'x.npy'), shape, x.data);
    return x;
  });
  predictToNpy(model, xs, path.join(dir, 'y.npy'));
  fs.writeFileSync(path.join(dir, 'counts.json'), JSON.stringify(paramCounts(model)) + '\n');
});
