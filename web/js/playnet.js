// playnet.js: what the playground's settings mean for the network: the
// input features of a point, the Keras config of the network (a Sequential
// of Dense layers, a sigmoid output for the class-1 probability), and its
// optimizer. An ES module; node tests import it too.

import {EXTENT} from './toydata.js';

// Features of a point, from its coordinates scaled to [-1, 1] (u = x / 6,
// v = y / 6): the network sees these, not the raw coordinates.
export const FEATURES = {
  x1: {label: 'x₁', f: (u) => u},
  x2: {label: 'x₂', f: (u, v) => v},
  x1sq: {label: 'x₁²', f: (u) => u * u},
  x2sq: {label: 'x₂²', f: (u, v) => v * v},
  x1x2: {label: 'x₁x₂', f: (u, v) => u * v},
  sin1: {label: 'sin(x₁)', f: (u) => Math.sin(Math.PI * u)},
  sin2: {label: 'sin(x₂)', f: (u, v) => Math.sin(Math.PI * v)},
};

// the hidden layers' activations the page offers (any of the engine's would do)
export const ACTIVATIONS = ['tanh', 'relu', 'sigmoid', 'linear'];

export const OPTIMIZERS = {
  sgd: 'SGD',
  momentum: 'SGD + momentum 0.9',
  adam: 'Adam',
  rmsprop: 'RMSprop',
};

export const LIMITS = {layers: 4, units: 8};

// points [{x, y, label}] -> {x: Float32Array (n x features), y: Float32Array (n)}
export function tensors(points, features) {
  const k = features.length, x = new Float32Array(points.length * k), y = new Float32Array(points.length);
  points.forEach((p, i) => {
    const u = p.x / EXTENT, v = p.y / EXTENT;
    features.forEach((name, j) => (x[i * k + j] = FEATURES[name].f(u, v)));
    y[i] = p.label;
  });
  return {x, y};
}

// the centres of a side x side grid over the square, row by row from the
// top (y = +EXTENT) -> Float32Array (side^2 x features)
export function gridInputs(side, features) {
  const pts = [];
  for (let r = 0; r < side; r++)
    for (let c = 0; c < side; c++)
      pts.push({x: -EXTENT + (2 * EXTENT * (c + 0.5)) / side, y: EXTENT - (2 * EXTENT * (r + 0.5)) / side, label: 0});
  return tensors(pts, features).x;
}

// settings: {features: [...], hidden: [units, ...], activation,
// regularization: "none" | "l1" | "l2", rate} -> a Keras Sequential config
export function kerasConfig({features, hidden, activation, regularization = 'none', rate = 0}) {
  if (!features.length) throw new Error('choose at least one input feature');
  if (hidden.length > LIMITS.layers) throw new Error(`at most ${LIMITS.layers} hidden layers`);
  const reg = regularization === 'none' || !(rate > 0) ? null
    : {class_name: regularization === 'l1' ? 'L1' : 'L2', config: {[regularization]: rate}};
  const dense = (units, act, name) => ({class_name: 'Dense', config: {name, units, activation: act,
    ...(reg ? {kernel_regularizer: reg} : {})}});
  return {class_name: 'Sequential', config: {name: 'playground', layers: [
    {class_name: 'InputLayer', config: {batch_input_shape: [null, features.length], name: 'features'}},
    ...hidden.map((u, i) => dense(u, activation, `hidden${i + 1}`)),
    dense(1, 'sigmoid', 'output'),
  ]}};
}

export function optimizerConfig(name, learningRate) {
  const lr = {learning_rate: learningRate};
  switch (name) {
    case 'sgd': return {class_name: 'SGD', config: lr};
    case 'momentum': return {class_name: 'SGD', config: {...lr, momentum: 0.9}};
    case 'adam': return {class_name: 'Adam', config: lr};
    case 'rmsprop': return {class_name: 'RMSprop', config: lr};
    default: throw new Error(`unknown optimizer '${name}' (${Object.keys(OPTIMIZERS).join(', ')})`);
  }
}
