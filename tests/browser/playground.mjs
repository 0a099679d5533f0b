// playground.mjs: the browser checks of the playground and the backprop page,
// run by run.mjs against its `mlexp serve` (and a static file server here).
//   - the home page's tool cards lead to both pages;
//   - the playground trains XOR to 100% training and test accuracy within
//     XOR_BOUND steps (seed 1: 2 hidden layers of 8 relu units, Adam 0.03,
//     batch 10, 10 steps per frame), the boundary changes as it trains, no
//     request leaves the page while it trains, pause stops the step count,
//     step adds exactly one, reset goes back to step 0 and the same start;
//   - the controls rebuild the network and data (and the URL keeps them);
//   - the playground trains from static files alone (no API, no isolation);
//   - the backprop page steps through the whole trace of sigmoid_221 (every
//     forward value, the loss, every gradient in backward order, every
//     update) and shows the numbers of `mlexp explain --format json`, run
//     natively here; prev, reset and the arrow keys move; every example
//     ends on the native final weights; an edited description runs.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {ROOT, check, freePort, ready, tid} from './lib.mjs';

export const XOR_BOUND = 1000; // optimizer steps
const SEED_SETTINGS = 'dataset=xor&seed=1';

const idle = (page) => page.waitForFunction(() => window.mlexp && window.mlexp.busy === false && !window.mlexp.running, null, {timeout: 60000});
// the playground at url, its network built
async function openPlayground(page, url) {
  await page.goto(url);
  await ready(page);
  await idle(page);
}
const hook = (page) => page.evaluate(() => {
  const m = window.mlexp;
  return {step: m.step, trainAccuracy: m.trainAccuracy, testAccuracy: m.testAccuracy, trainLoss: m.trainLoss, testLoss: m.testLoss,
    hash: m.boundaryHash, history: m.history.length, msPerStep: m.msPerStep, stepsPerSecond: m.stepsPerSecond, params: m.params};
});
const text = (page, id) => page.textContent(tid(id));
// set a control's value as a person would leave it (the page reacts to change)
const setValue = (page, id, v) => page.$eval(tid(id), (e, value) => {
  e.value = String(value);
  e.dispatchEvent(new Event('change', {bubbles: true}));
}, v);
const canvasPixels = (page) => page.$eval(tid('playground-canvas'), (c) => c.toDataURL());
const close = (a, b, rel = 1e-6) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

// web/ at /, build/wasm/ at /wasm/: what any static host would serve
async function staticServer() {
  const types = {'.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json'};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const rel = decodeURIComponent(url.pathname);
    const file = rel.startsWith('/wasm/') ? path.join(ROOT, 'build/wasm', rel.slice(6)) : path.join(ROOT, 'web', rel === '/' ? 'index.html' : rel);
    if (rel.includes('..') || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, {'Content-Type': types[path.extname(file)] || 'application/octet-stream'});
    res.end(fs.readFileSync(file));
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r))};
}

// the frames the backprop page should show for a trace: [kind, name]
function expectedFrames(t) {
  const out = [];
  for (const s of t.steps) {
    out.push(['start', t.input.name]);
    if (s.lookahead) out.push(['lookahead', 'lookahead']);
    for (const f of s.forward) out.push(['forward', f.name]);
    out.push(['loss', 'loss']);
    for (const b of s.backward) out.push(['backward', b.grad_of]);
    for (const p of s.update.params) out.push(['update', p.name]);
  }
  return out;
}

// every number in the diagram: key -> {v, text}
const diagramNumbers = (page) => page.$$eval(`${tid('diagram')} [data-key]`, (es) =>
  Object.fromEntries(es.map((e) => [e.dataset.key, {v: Number(e.dataset.v), text: e.textContent}])));

// numbers of a trace entry the frame must show: key prefix and values
function frameNumbers(t, kind, step, name, index) {
  const s = t.steps[step];
  if (kind === 'start') return [[`v:${t.input.name}`, t.input.data], ...s.weights.map((w) => [`w:${w.name}`, w.data])];
  if (kind === 'lookahead') return s.lookahead.map((w) => [`w:${w.name}`, w.data]);
  if (kind === 'forward') return [[`v:${name}`, s.forward[index].data]];
  if (kind === 'loss') return [['loss', [s.loss.value]]];
  if (kind === 'backward') return s.backward[index].data ? [[`g:${name}`, s.backward[index].data]] : [];
  if (kind === 'update') return [[`w:${name}`, s.update.params[index].after]];
  return [];
}

function compareNumbers(shown, wanted, where) {
  const problems = [];
  for (const [prefix, data] of wanted)
    data.forEach((v, k) => {
      const key = prefix === 'loss' ? 'loss' : `${prefix}[${k}]`, got = shown[key];
      if (!got) problems.push(`${where}: ${key} not shown`);
      else if (!close(got.v, v)) problems.push(`${where}: ${key} is ${got.v}, the native trace has ${v}`);
      else {
        const printed = Number(got.text.split('=').pop().trim()); // "z_h[0] = 0.3775", "0.15", "L = 0.27"
        if (!close(printed, v, 1e-5)) problems.push(`${where}: ${key} reads '${got.text}' for ${v}`);
      }
    });
  return problems;
}

export async function playgroundTests({base, newPage, test, ART, BIN}) {
  await test('home_tools', async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    await page.waitForSelector(tid('tool-card'));
    const cards = await page.$$eval(tid('tool-card'), (cs) => cs.map((c) => `${c.dataset.tool} ${c.getAttribute('href')}`));
    check('home_tool_cards', cards.join(',') === 'playground /playground.html,backprop /backprop.html', cards.join(','));
    await page.click(`${tid('tool-card')}[data-tool="playground"]`);
    await ready(page);
    check('home_to_playground', page.url().endsWith('/playground.html'), page.url());
    await page.context().close();
  });

  await test('playground_xor', async () => {
    const page = await newPage();
    await openPlayground(page, `${base}/playground.html?${SEED_SETTINGS}`);
    // the network of the bound, chosen with the controls
    await page.selectOption(tid('activation'), 'relu');
    await setValue(page, 'layers', 2);
    await setValue(page, 'units', 8);
    await page.selectOption(tid('optimizer'), 'adam');
    await page.selectOption(tid('learning-rate'), '0.03');
    await setValue(page, 'batch-size', 10);
    await page.selectOption(tid('speed'), '10');
    await idle(page);
    const start = await hook(page);
    check('playground_start', start.step === 0 && (await text(page, 'steps')) === '0' && start.params === 2 * 8 + 8 + 8 * 8 + 8 + 9 &&
      page.url().includes('activation=relu'), `step ${start.step}, ${start.params} parameters, url ${page.url()}`);
    const pixels0 = await canvasPixels(page);
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));

    await page.click(tid('play'));
    const hashes = new Set([start.hash]);
    let reached = null;
    for (let i = 0; i < 2000 && reached == null; i++) {
      const h = await hook(page);
      hashes.add(h.hash);
      if (h.trainAccuracy === 1 && h.testAccuracy === 1) reached = h.step;
      else if (h.step > XOR_BOUND) break;
      await page.waitForTimeout(20);
    }
    const during = await hook(page);
    // the first evaluation at 100% (the page evaluates after every frame's steps)
    const firstFull = await page.evaluate(() => window.mlexp.history.find((h) => h.trainAccuracy === 1 && h.testAccuracy === 1));
    if (reached != null) reached = firstFull ? firstFull.step : null;
    check('playground_xor_100', reached != null && reached <= XOR_BOUND,
      `reached 100% at step ${reached} (bound ${XOR_BOUND}); now step ${during.step}, accuracy ${during.trainAccuracy}/${during.testAccuracy}`);
    if (reached != null) console.log(`     XOR at 100% training and test accuracy after ${reached} steps`);
    check('playground_boundary_changes', hashes.size >= 3 && (await canvasPixels(page)) !== pixels0,
      `${hashes.size} different boundaries seen`);
    const shown = {trainLoss: Number(await page.getAttribute(tid('train-loss'), 'data-value')),
      testAccuracy: Number(await page.getAttribute(tid('test-accuracy'), 'data-value'))};
    check('playground_numbers_shown', Number.isFinite(shown.trainLoss) && shown.trainLoss > 0 && shown.testAccuracy >= 0 && shown.testAccuracy <= 1 &&
      (await page.$$(`${tid('loss-curve')} svg polyline`)).length === 2, JSON.stringify(shown));
    await page.screenshot({path: `${ART}/playground_xor.png`, fullPage: true});

    // pause: the count stops
    await page.click(tid('pause'));
    await idle(page);
    const paused = Number(await text(page, 'steps'));
    await page.waitForTimeout(600);
    const later = Number(await text(page, 'steps'));
    check('playground_pause', paused > 0 && later === paused && (await hook(page)).step === paused, `${paused} then ${later}`);
    console.log(`     ${during.msPerStep ? (1000 * during.msPerStep).toFixed(1) : '?'} µs per step in the engine, ` +
      `${Math.round(during.stepsPerSecond)} steps/s in the page with drawing (10 steps per frame)`);
    // step: exactly one more
    await page.click(tid('step'));
    await idle(page);
    const stepped = Number(await text(page, 'steps'));
    check('playground_step', stepped === paused + 1 && (await hook(page)).step === stepped, `${paused} then ${stepped}`);
    check('playground_no_requests', requests.length === 0, `the page fetched ${requests.slice(0, 5).join(', ')}`);
    // reset: step 0, the same starting network
    await page.click(tid('reset'));
    await idle(page);
    const reset = await hook(page);
    check('playground_reset', (await text(page, 'steps')) === '0' && reset.step === 0 && reset.history === 1 && reset.hash === start.hash,
      `step ${reset.step}, ${reset.history} curve points, boundary ${reset.hash} vs ${start.hash}`);
    await page.context().close();
  });

  await test('playground_controls', async () => {
    const page = await newPage();
    await openPlayground(page, `${base}/playground.html?${SEED_SETTINGS}`);
    const before = await hook(page);
    await page.selectOption(tid('dataset'), 'spiral');
    await setValue(page, 'noise', 20);
    await page.check(tid('feature-x1x2'));
    await idle(page);
    const info = await text(page, 'network-info');
    const s = await page.evaluate(() => window.mlexp.settings());
    check('playground_controls_rebuild', s.dataset === 'spiral' && s.noise === 20 && s.features === 'x1,x2,x1x2' &&
      info.startsWith('3 → 8 → 8 → 1') && (await hook(page)).hash !== before.hash && page.url().includes('dataset=spiral'),
      `${JSON.stringify(s)}; ${info}`);
    await setValue(page, 'layers', 0);
    await idle(page);
    check('playground_no_hidden_layer', (await text(page, 'network-info')).startsWith('3 → 1: 4 parameters') &&
      (await page.isDisabled(tid('units'))), await text(page, 'network-info'));
    await setValue(page, 'layers', 3);
    await page.selectOption(tid('activation'), 'tanh');
    await page.selectOption(tid('regularization'), '0.001');
    await page.click(tid('play'));
    await page.waitForFunction(() => window.mlexp.step >= 300, null, {timeout: 60000});
    await page.click(tid('pause'));
    await idle(page);
    const h = await hook(page), first = await page.evaluate(() => window.mlexp.history[0]);
    check('playground_spiral_trains', first.step === 0 && h.trainLoss < first.trainLoss - 0.01,
      `loss ${first.trainLoss} at step 0, ${h.trainLoss} after ${h.step} steps`);
    await page.screenshot({path: `${ART}/playground_spiral.png`, fullPage: true});
    // the URL brings the settings back
    await page.goto(page.url());
    await ready(page);
    const again = await page.evaluate(() => window.mlexp.settings());
    check('playground_url_settings', again.layers === 3 && again.l2 === 0.001 && again.dataset === 'spiral' &&
      (await page.inputValue(tid('regularization'))) === '0.001', JSON.stringify(again));
    await page.context().close();
  });

  await test('playground_static', async () => {
    const files = await staticServer();
    try {
      const page = await newPage();
      await openPlayground(page, `${files.base}/playground.html?${SEED_SETTINGS}`);
      await page.click(tid('step'));
      await idle(page);
      const h = await hook(page);
      const threads = await text(page, 'network-info');
      check('playground_static_files', h.step === 1 && Number.isFinite(h.testLoss) && /1 thread/.test(threads),
        `step ${h.step}, test loss ${h.testLoss}, ${threads}`);
      await page.context().close();
    } finally {
      await files.close();
    }
  });

  // ---- the backprop page against the native trace ----
  const native = (name) => JSON.parse(execFileSync(BIN, ['explain', `examples/explain/${name}.json`, '--format', 'json'], {cwd: ROOT, encoding: 'utf8'}));
  const frameOf = (page) => page.$eval(tid('trace-step'), (e) => ({...e.dataset, text: e.textContent}));

  await test('backprop_sigmoid_221', async () => {
    const t = native('sigmoid_221');
    const want = expectedFrames(t);
    const page = await newPage();
    await page.goto(`${base}/backprop.html?example=sigmoid_221`);
    await ready(page);
    const problems = [], seen = [];
    const counters = {forward: 0, backward: 0, update: 0};
    for (let i = 0; ; i++) {
      const f = await frameOf(page);
      seen.push([f.kind, f.name]);
      const index = f.kind in counters ? counters[f.kind]++ : 0;
      const shown = await diagramNumbers(page);
      problems.push(...compareNumbers(shown, frameNumbers(t, f.kind, Number(f.step), f.name, index), `frame ${i} (${f.kind} ${f.name})`));
      // the chain rule as the trace writes it
      if (f.kind === 'backward') {
        const e = t.steps[0].backward[index];
        const lines = await page.$$eval(`${tid('explanation')} ol.lines li`, (ls) => ls.map((l) => l.textContent));
        const wantLines = [...(e.factor_lines || []), ...(e.lines || [])];
        if (lines.join('\n') !== wantLines.join('\n')) problems.push(`frame ${i}: lines ${JSON.stringify(lines)} vs ${JSON.stringify(wantLines)}`);
      }
      if (f.kind === 'loss') await page.screenshot({path: `${ART}/backprop_forward.png`, fullPage: true});
      if (f.kind === 'backward' && f.name === 'h/z') await page.screenshot({path: `${ART}/backprop_backward.png`, fullPage: true});
      if (await page.isDisabled(tid('next'))) break;
      await page.click(tid('next'));
    }
    await page.screenshot({path: `${ART}/backprop_update.png`, fullPage: true});
    check('backprop_frames', JSON.stringify(seen) === JSON.stringify(want),
      `the page showed ${seen.map((s) => s.join(' ')).join(', ')}; the trace has ${want.map((s) => s.join(' ')).join(', ')}`);
    check('backprop_numbers_native', problems.length === 0, `${problems.length} differences: ${problems.slice(0, 4).join('; ')}`);
    // at the end, every number of the step is on the diagram: values,
    // gradients, new weights
    const all = await diagramNumbers(page);
    const final = t.final_weights.map((w) => [`w:${w.name}`, w.data]);
    const fwd = t.steps[0].forward.map((f) => [`v:${f.name}`, f.data]);
    const grads = t.steps[0].backward.filter((b) => b.data).map((b) => [`g:${b.grad_of}`, b.data]);
    const endProblems = compareNumbers(all, [...final, ...fwd, ...grads, ['loss', [t.steps[0].loss.value]]], 'last frame');
    check('backprop_last_frame', endProblems.length === 0, endProblems.slice(0, 4).join('; '));
    // moving back and forth
    await page.click(tid('prev'));
    const back = await frameOf(page);
    await page.keyboard.press('ArrowRight');
    const fwdKey = await frameOf(page);
    await page.click(tid('reset'));
    const first = await frameOf(page);
    check('backprop_prev_reset_keys', Number(back.frame) === want.length - 2 && Number(fwdKey.frame) === want.length - 1 &&
      Number(first.frame) === 0 && first.kind === 'start' && (await page.isDisabled(tid('prev'))) &&
      /step 1 of 1 · the input and weights \(1\/19\)/.test(first.text), `${back.frame}, ${fwdKey.frame}, ${first.frame}: ${first.text}`);
    console.log(`     backprop page: ${want.length} frames of sigmoid_221 equal mlexp explain --format json`);
    await page.context().close();
  });

  await test('backprop_examples', async () => {
    const page = await newPage();
    await page.goto(`${base}/backprop.html`);
    await ready(page);
    const names = await page.$$eval(`${tid('example-select')} option`, (os) => os.map((o) => o.value));
    const files = fs.readdirSync(path.join(ROOT, 'examples/explain')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    check('backprop_example_list', names.join() === files.join(), `${names.join()} vs ${files.join()}`);
    const problems = [];
    for (const name of files) {
      const t = native(name);
      await page.selectOption(tid('example-select'), name);
      await page.waitForFunction((n) => window.mlexp.example === n && window.mlexp.frame === 0 &&
        document.querySelector('[data-testid="status"]').textContent.startsWith('ready'), name);
      const frames = Number((await frameOf(page)).frames);
      if (frames !== expectedFrames(t).length) problems.push(`${name}: ${frames} frames, the trace has ${expectedFrames(t).length}`);
      await page.$eval(tid('example-select'), (e) => e.blur()); // keys go to the page, not the menu
      for (let i = 1; i < frames; i++) await page.keyboard.press('ArrowRight');
      const last = await frameOf(page);
      if (Number(last.frame) !== frames - 1) problems.push(`${name}: stopped at frame ${last.frame}`);
      const units = await page.$$(`${tid('diagram')} [data-key^="w:"]`);
      if (units.length) // a diagram of units: the weights after the last step
        problems.push(...compareNumbers(await diagramNumbers(page), t.steps[t.steps.length - 1].update.params.map((p) => [`w:${p.name}`, p.after]), name));
      if (name === 'relu_softmax') {
        await page.selectOption(tid('sample'), '1');
        const s1 = await diagramNumbers(page);
        const z = t.steps[0].forward[0];
        if (!close(s1['v:h/z[4]']?.v, z.data[4])) problems.push('relu_softmax: sample 1 not shown');
        await page.screenshot({path: `${ART}/backprop_relu_softmax.png`, fullPage: true});
      }
      if (name === 'conv_pool') await page.screenshot({path: `${ART}/backprop_conv_pool.png`, fullPage: true});
    }
    check('backprop_every_example', problems.length === 0, problems.slice(0, 4).join('; '));
    // a description of one's own, and a broken one
    await page.click(`${tid('description-box')} summary`);
    await page.fill(tid('description'), JSON.stringify({inputs: [1, 2], layers: [{type: 'Dense', name: 'y', units: 1, kernel: [[0.5], [-1]], bias: [0]}],
      loss: 'half_squared_error', targets: [1], optimizer: {class_name: 'SGD', learning_rate: 0.1}}));
    await page.click(tid('run-description'));
    await page.waitForFunction(() => window.mlexp.trace.input.data.join() === '1,2');
    await page.keyboard.press('ArrowRight');
    const y = await diagramNumbers(page);
    check('backprop_own_description', close(y['v:y[0]']?.v, -1.5), JSON.stringify(y['v:y[0]']));
    await page.fill(tid('description'), '{"inputs": [1], "layers": [{"type": "Dense", "units": 1, "kernal": 1}]}');
    await page.click(tid('run-description'));
    await page.waitForSelector(`${tid('error')}:not([hidden])`);
    const err = await text(page, 'error');
    check('backprop_description_error', /your description: layers\[0\] \(Dense\): unknown config key 'kernal'/.test(err), err);
    await page.context().close();
  });
}
