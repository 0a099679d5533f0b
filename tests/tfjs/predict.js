// predict.js MODELDIR X.npy [X1.npy ...] Y.npy [--train-step]
// Loads a TF.js layers model directory (written by mlexp or by TF.js) and
// writes its prediction (output 0) of the inputs, one .npy per model input.
// --train-step: the model must come with a trainingConfig; TF.js compiles it
// from that, trains one step on the inputs, and every weight must stay finite.
'use strict';
const npy = require('./npy');
const { tf, loadModel, predictToNpy, main } = require('./common');

// One step towards the model's own predictions (as class labels for the
// sparse loss), which fits any loss; fails if a weight turns NaN or infinite.
async function trainStep(model, inputs, y) {
  if (!model.optimizer) throw new Error('--train-step: model.json has no trainingConfig');
  const sparse = /sparse/i.test(String(model.loss));
  // TF.js wants sparse targets of the output's rank: (N, 1), or (N, T, 1) for sequences
  const target = sparse ? y.argMax(-1).expandDims(-1).toFloat() : y;
  await model.trainOnBatch(inputs.length === 1 ? inputs[0] : inputs, target);
  const bad = model.weights.find(w => !Array.from(w.read().dataSync()).every(Number.isFinite));
  if (bad)
    throw new Error(`--train-step: weight '${bad.originalName}' is not finite after one TF.js training step ` +
      `(loss ${model.loss}, ${model.optimizer.getClassName()}); the optimizer config as TF.js read it: ` +
      JSON.stringify(model.optimizer.getConfig()));
}

main(async () => {
  const args = process.argv.slice(2).filter(a => a !== '--train-step');
  const train = args.length < process.argv.length - 2;
  if (args.length < 3) throw new Error('usage: predict.js MODELDIR X.npy [X1.npy ...] Y.npy [--train-step]');
  const model = await loadModel(args[0]);
  const xs = args.slice(1, -1).map(f => npy.load(f));
  if (xs.length !== model.inputs.length)
    throw new Error(`the model has ${model.inputs.length} inputs, ${xs.length} .npy files given`);
  const y = predictToNpy(model, xs, args[args.length - 1]);
  if (train) await trainStep(model, xs.map(x => tf.tensor(x.data, x.shape)), y);
});
