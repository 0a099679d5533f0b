// run.mjs BUILD_DIR [ARTIFACTS_DIR]: the web demo in a real browser.
// Starts `mlexp serve` on 127.0.0.1 with the default models plus a small
// photo classifier trained here, drives Debian's Chromium headless with
// Playwright, and checks the pages: drawing real test digits as mouse
// strokes, touch and pen input, undo and clear, the Fashion gallery, photo
// upload, model switching, errors; then the playground and the backprop
// page (playground.mjs). Screenshots go to ARTIFACTS_DIR.
// Prints "ok NAME" / "FAIL NAME: why" and ends with "N passed, N failed".
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {ROOT, bad, check, counts, launchBrowser, ok, ready, startServer, tid} from './lib.mjs';
import {playgroundTests} from './playground.mjs';
import {encodePNG} from './png.mjs';
import {digitStrokes} from './strokes.mjs';

const BIN = path.resolve(process.argv[2] || `${ROOT}/build/release`, 'mlexp');
const ART = path.resolve(process.argv[3] || `${ROOT}/build/test-artifacts/browser`);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mlexp_browser.'));

// ---- fixtures: models and a photo classifier trained here ----

function shapesDataset(dir) {
  // three classes of drawn shapes on noisy backgrounds, PNGs of varied sizes
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const files = {};
  for (const cls of ['paper', 'rock', 'scissors']) {
    fs.mkdirSync(`${dir}/${cls}`, {recursive: true});
    files[cls] = [];
    for (let i = 0; i < 24; i++) {
      const s = 40 + Math.floor(rand() * 50);
      const rgb = new Uint8Array(s * s * 3);
      for (let y = 0; y < s; y++)
        for (let x = 0; x < s; x++) {
          const u = y / s, v = x / s;
          const m = cls === 'rock' ? (u - 0.5) ** 2 + (v - 0.5) ** 2 < 0.1
            : cls === 'paper' ? Math.abs(u - 0.5) < 0.35 && Math.abs(v - 0.5) < 0.25
            : Math.abs(u - v) < 0.08 || Math.abs(u + v - 1) < 0.08;
          const o = 3 * (y * s + x);
          if (m) rgb.set([230, 180, 150], o);
          else rgb.set([100 + 40 * rand(), 100 + 40 * rand(), 100 + 40 * rand()], o);
        }
      const f = `${dir}/${cls}/${String(i).padStart(3, '0')}.png`;
      fs.writeFileSync(f, encodePNG(rgb, s, s));
      files[cls].push(f);
    }
  }
  return files;
}

function prepareModels() {
  const models = `${TMP}/models`;
  fs.mkdirSync(models);
  for (const name of ['digits_cnn', 'digits_mlp', 'fashion_cnn']) {
    fs.mkdirSync(`${models}/${name}`);
    for (const f of fs.readdirSync(`${ROOT}/models/${name}`)) {
      const p = `${ROOT}/models/${name}/${f}`;
      if (fs.statSync(p).isFile()) fs.copyFileSync(p, `${models}/${name}/${f}`);
    }
  }
  const photos = shapesDataset(`${TMP}/shapes`);
  const experiment = {
    name: 'shapes',
    title: 'Shapes in photos',
    description: 'Drawn shapes as small photos, made by the browser test.',
    dataset: {name: 'image_folder', path: `${TMP}/shapes`, image_size: [32, 32], channels: 3, resize: 'bilinear', validation: 'test'},
    preprocessing: {scale: 1 / 255, offset: 0},
    model: {class_name: 'Sequential', config: {name: 'shapes', layers: [
      {class_name: 'InputLayer', config: {batch_input_shape: [null, 32, 32, 3]}},
      {class_name: 'Conv2D', config: {filters: 8, kernel_size: 3, activation: 'relu'}},
      {class_name: 'MaxPooling2D', config: {pool_size: 2}},
      {class_name: 'Flatten', config: {}},
      {class_name: 'Dense', config: {units: 3, activation: 'softmax'}},
    ]}},
    training: {epochs: 15, batch_size: 8, seed: 1, optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy']},
  };
  fs.writeFileSync(`${TMP}/shapes.json`, JSON.stringify(experiment));
  const r = spawnSync(BIN, ['train', `${TMP}/shapes.json`, '--out', `${models}/shapes`], {encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`training the shapes model failed: ${r.stderr || r.stdout}`);
  return {models, photos};
}

// ---- the server ----

async function postPredict(base, name, body, type = 'application/json') {
  const r = await fetch(`${base}/api/models/${name}/predict`, {method: 'POST', headers: {'Content-Type': type}, body});
  const j = await r.json();
  if (!r.ok) throw new Error(`POST predict ${name}: ${r.status} ${j.error}`);
  return j.predictions[0];
}

// (784) raw values to the nested (28, 28, 1) lists the API takes
const nest = (flat) => Array.from({length: 28}, (_, y) => Array.from({length: 28}, (_, x) => [flat[y * 28 + x]]));
const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

// ---- page helpers ----

// wait until the prediction reflects the last drawing
async function settled(page) {
  await page.waitForFunction(() => window.mlexp && window.mlexp.predicted === window.mlexp.drawn, null, {timeout: 20000});
}

async function readPage(page) {
  return page.evaluate(() => ({
    prediction: document.querySelector('[data-testid="prediction"]').textContent,
    probs: [...document.querySelectorAll('[data-testid="probabilities"] [data-label]')].map((e) => ({label: e.dataset.label, p: Number(e.dataset.p)})),
    input: window.mlexp.lastInput,
    pointer: window.mlexp.lastPointerType,
  }));
}

// canvas-space point (0..1) to viewport pixels, keeping a margin like a person would
async function mapper(page) {
  const box = await page.locator(tid('draw-canvas')).boundingBox();
  return ([u, v]) => [box.x + box.width * (0.1 + 0.8 * u), box.y + box.height * (0.1 + 0.8 * v)];
}

async function drawMouse(page, strokes) {
  const map = await mapper(page);
  for (const s of strokes) {
    const [x0, y0] = map(s[0]);
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    for (const p of s.slice(1)) {
      const [x, y] = map(p);
      await page.mouse.move(x, y, {steps: 2});
    }
    await page.mouse.up();
  }
}

// touch or pen strokes through the DevTools protocol (real pointer events of that type)
async function drawDevice(page, cdp, strokes, kind) {
  const map = await mapper(page);
  for (const s of strokes) {
    const pts = s.map(map);
    if (kind === 'touch') {
      await cdp.send('Input.dispatchTouchEvent', {type: 'touchStart', touchPoints: [{x: pts[0][0], y: pts[0][1]}]});
      for (const [x, y] of pts.slice(1)) await cdp.send('Input.dispatchTouchEvent', {type: 'touchMove', touchPoints: [{x, y}]});
      await cdp.send('Input.dispatchTouchEvent', {type: 'touchEnd', touchPoints: []});
    } else {
      const ev = (type, [x, y], buttons) => cdp.send('Input.dispatchMouseEvent', {type, x, y, button: 'left', buttons, clickCount: 1, pointerType: 'pen'});
      await ev('mousePressed', pts[0], 1);
      for (const p of pts.slice(1)) await ev('mouseMoved', p, 1);
      await ev('mouseReleased', pts[pts.length - 1], 0);
    }
  }
}

// the first real test digit of each class, from the server's examples endpoint
async function testDigits(base) {
  const byClass = new Map();
  for (let offset = 0, total = 1; offset < total && byClass.size < 10; offset += 100) {
    const j = await (await fetch(`${base}/api/models/digits_cnn/examples?count=100&offset=${offset}`)).json();
    total = j.total;
    for (const e of j.examples) if (!byClass.has(e.class)) byClass.set(e.class, e);
  }
  return [...byClass.values()].sort((a, b) => a.class - b.class);
}

// ---- the tests ----

async function run(browser, server, fixtures) {
  const {base} = server;
  const errors = [];
  const newPage = async (options = {}) => {
    const ctx = await browser.newContext({viewport: {width: 1100, height: 900}, ...options});
    const page = await ctx.newPage();
    page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
    return page;
  };
  const test = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      bad(name, e.message.split('\n')[0]);
    }
  };

  await test('home', async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    await page.waitForSelector(`${tid('model-card')}`);
    const cards = await page.$$eval(tid('model-card'), (cs) => cs.map((c) => ({name: c.dataset.model, href: c.getAttribute('href')})));
    await page.screenshot({path: `${ART}/home.png`, fullPage: true});
    const names = cards.map((c) => c.name).sort().join(',');
    check('home_cards', names === 'digits_cnn,digits_mlp,fashion_cnn,shapes', `cards for ${names}`);
    const digits = cards.find((c) => c.name === 'digits_cnn');
    check('home_links', digits && digits.href === '/draw.html?model=digits_cnn' && cards.find((c) => c.name === 'shapes').href === '/classify.html?model=shapes',
      `links ${JSON.stringify(cards)}`);
    await page.click(`${tid('model-card')}[data-model="digits_cnn"]`);
    await ready(page);
    check('home_to_digits', page.url().endsWith('/draw.html?model=digits_cnn'), page.url());
    await page.context().close();
  });

  const digits = await testDigits(base);
  check('test_digits', digits.length === 10, `${digits.length} classes among the examples`);

  await test('digits_mouse', async () => {
    const page = await newPage();
    await page.goto(`${base}/draw.html?model=digits_cnn`);
    await ready(page);
    let right = 0, worst = 0;
    const misread = [];
    for (const d of digits) {
      await page.click(tid('clear'));
      await drawMouse(page, digitStrokes(d.pixels));
      await settled(page);
      const r = await readPage(page);
      if (r.prediction === d.label) right++;
      else misread.push(`${d.label} read as ${r.prediction}`);
      const api = await postPredict(base, 'digits_cnn', JSON.stringify({inputs: nest(r.input)}));
      worst = Math.max(worst, maxDiff(r.probs.map((q) => q.p), api.probabilities));
      if (d.class === 7) await page.screenshot({path: `${ART}/digits_cnn.png`, fullPage: true});
    }
    check('digits_mouse_read', right >= 9, `${right}/10 read correctly (${misread.join(', ')})`);
    if (right >= 9) console.log(`     ${right}/10 drawn test digits read correctly${misread.length ? ` (${misread.join(', ')})` : ''}`);
    check('digits_page_equals_api', worst <= 1e-5, `page and POST /predict differ by ${worst}`);
    console.log(`     page vs POST /predict: max abs difference ${worst.toExponential(2)}`);
    const r = await readPage(page);
    check('probabilities_per_class', r.probs.length === 10 && r.probs.map((q) => q.label).join('') === '0123456789' &&
      Math.abs(r.probs.reduce((s, q) => s + q.p, 0) - 1) < 1e-4, JSON.stringify(r.probs));
    const preview = await page.$eval(tid('input-preview'), (c) => [c.width, c.height]);
    check('input_preview', preview[0] === 28 && preview[1] === 28 && r.input.length === 784, `preview ${preview}, input ${r.input && r.input.length}`);

    // undo takes the last stroke away, clear empties the page
    await page.click(tid('clear'));
    const one = digitStrokes(digits[1].pixels);
    await drawMouse(page, one);
    await settled(page);
    const before = (await readPage(page)).input.join();
    await drawMouse(page, [[[0.1, 0.1], [0.9, 0.9]]]);
    await settled(page);
    const withExtra = (await readPage(page)).input.join();
    await page.click(tid('undo'));
    await settled(page);
    const afterUndo = (await readPage(page)).input.join();
    check('undo', withExtra !== before && afterUndo === before, 'undo did not restore the drawing before the last stroke');
    await page.click(tid('clear'));
    await settled(page);
    const cleared = await readPage(page);
    check('clear', cleared.prediction === '–' && cleared.input == null && cleared.probs.every((q) => q.p === 0), JSON.stringify(cleared.prediction));

    // the MLP, chosen in the model menu
    await page.selectOption(tid('model-select'), 'digits_mlp');
    await ready(page);
    await drawMouse(page, digitStrokes(digits[3].pixels));
    await settled(page);
    const mlp = await readPage(page);
    const api = await postPredict(base, 'digits_mlp', JSON.stringify({inputs: nest(mlp.input)}));
    check('model_select_mlp', page.url().endsWith('model=digits_mlp') && mlp.prediction === api.label && maxDiff(mlp.probs.map((q) => q.p), api.probabilities) <= 1e-5,
      `url ${page.url()}, page says ${mlp.prediction}, API ${api.label}`);
    await page.screenshot({path: `${ART}/digits_mlp.png`, fullPage: true});
    await page.context().close();
  });

  for (const kind of ['touch', 'pen']) {
    await test(`digits_${kind}`, async () => {
      const page = await newPage(kind === 'touch' ? {hasTouch: true, isMobile: true, viewport: {width: 420, height: 900}} : {});
      await page.goto(`${base}/draw.html?model=digits_cnn`);
      await ready(page);
      const cdp = await page.context().newCDPSession(page);
      const d = digits[kind === 'touch' ? 2 : 4];
      await drawDevice(page, cdp, digitStrokes(d.pixels), kind);
      await settled(page);
      const r = await readPage(page);
      check(`digits_${kind}`, r.pointer === kind && r.input && r.input.some((v) => v > 0) && r.prediction === d.label,
        `pointer ${r.pointer}, prediction ${r.prediction} for a ${d.label}`);
      const scrolled = await page.evaluate(() => window.scrollY);
      if (kind === 'touch') check('touch_does_not_scroll', scrolled === 0, `the page scrolled by ${scrolled}px while drawing`);
      await page.screenshot({path: `${ART}/digits_${kind}.png`, fullPage: true});
      await page.context().close();
    });
  }

  await test('fashion', async () => {
    const page = await newPage();
    await page.goto(`${base}/draw.html?model=fashion_cnn`);
    await ready(page);
    await page.waitForSelector(`${tid('gallery')} button`);
    const buttons = await page.$$(`${tid('gallery')} button`);
    let right = 0, worst = 0;
    for (const b of buttons.slice(0, 12)) {
      const label = await b.getAttribute('data-label');
      await b.click();
      await settled(page);
      const r = await readPage(page);
      if (r.prediction === label) right++;
      const api = await postPredict(base, 'fashion_cnn', JSON.stringify({inputs: nest(r.input)}));
      worst = Math.max(worst, maxDiff(r.probs.map((q) => q.p), api.probabilities));
    }
    check('fashion_gallery', buttons.length === 24 && right >= 10, `${buttons.length} images, ${right}/12 read correctly`);
    check('fashion_page_equals_api', worst <= 1e-5, `page and POST /predict differ by ${worst}`);
    const classes = await page.$$eval(`${tid('probabilities')} [data-label]`, (es) => es.map((e) => e.dataset.label));
    check('fashion_classes', classes.length === 10 && classes.includes('Ankle boot'), classes.join(','));
    await page.click(tid('clear'));
    await drawMouse(page, [[[0.2, 0.3], [0.8, 0.3], [0.8, 0.9], [0.2, 0.9], [0.2, 0.3]]]);
    await settled(page);
    check('fashion_draw', (await readPage(page)).prediction !== '–', 'no prediction for a drawing');
    await buttons[0].click();
    await settled(page);
    await page.screenshot({path: `${ART}/fashion_cnn.png`, fullPage: true});
    await page.context().close();
  });

  await test('classify', async () => {
    const page = await newPage();
    await page.goto(`${base}/classify.html?model=shapes`);
    await ready(page);
    let right = 0, worst = 0;
    const picks = ['rock', 'paper', 'scissors'].flatMap((c) => fixtures.photos[c].slice(20, 22).map((f) => [c, f]));
    for (const [cls, file] of picks) {
      const n = await page.evaluate(() => window.mlexp.predictions || 0);
      await page.setInputFiles(tid('upload'), file);
      await page.waitForFunction((k) => (window.mlexp.predictions || 0) > k, n);
      const r = await readPage(page);
      if (r.prediction === cls) right++;
      const api = await postPredict(base, 'shapes', fs.readFileSync(file), 'image/png');
      worst = Math.max(worst, maxDiff(r.probs.map((q) => q.p), api.probabilities));
    }
    check('classify_upload', right >= 5, `${right}/6 photos read correctly`);
    check('classify_page_equals_api', worst <= 1e-4, `page and POST /predict (PNG upload) differ by ${worst}`);
    await page.screenshot({path: `${ART}/classify.png`, fullPage: true});
    await page.context().close();
  });

  await test('missing_model', async () => {
    for (const pageName of ['draw', 'classify']) {
      const page = await newPage();
      await page.goto(`${base}/${pageName}.html?model=no_such_model`);
      await page.waitForSelector(`${tid('error')}:not([hidden])`, {timeout: 20000});
      const text = await page.textContent(tid('error'));
      check(`missing_model_${pageName}`, /no_such_model/.test(text), `error says: ${text}`);
      await page.screenshot({path: `${ART}/missing_model_${pageName}.png`, fullPage: true});
      await page.context().close();
    }
  });

  await test('report', async () => {
    const page = await newPage();
    await page.goto(`${base}/draw.html?model=digits_cnn`);
    await ready(page);
    const summary = await page.textContent(`${tid('model-panel')} pre`);
    check('model_summary', /Total params: 37,610/.test(summary), summary.slice(0, 200));
    const charts = await page.$$(`${tid('model-panel')} svg.chart`);
    check('model_curves', charts.length === 2, `${charts.length} charts`);
    const r = await fetch(`${base}/models/digits_cnn/report.html`);
    check('model_report', r.ok && /confusion/i.test(await r.text()), `report.html: HTTP ${r.status}`);
    await page.context().close();
  });

  await playgroundTests({base, newPage, test, ART, BIN});

  check('no_page_errors', errors.length === 0, errors.join(' | '));
}

async function main() {
  fs.mkdirSync(ART, {recursive: true});
  let server, browser;
  try {
    const fixtures = prepareModels();
    ok('fixtures');
    server = await startServer(BIN, fixtures.models);
    ok('serve_started');
    browser = await launchBrowser();
    await run(browser, server, fixtures);
  } catch (e) {
    bad('setup', e.message);
  } finally {
    if (browser) await browser.close();
    if (server) {
      server.proc.kill('SIGTERM');
      const code = await new Promise((r) => (server.proc.exitCode != null ? r(server.proc.exitCode) : server.proc.on('exit', (c) => r(c))));
      check('serve_sigterm', code === 0, `exit ${code}: ${server.log().slice(-300)}`);
    }
    fs.rmSync(TMP, {recursive: true, force: true});
  }
  console.log(`screenshots: ${ART}`);
  console.log(`${counts.passed} passed, ${counts.failed} failed`);
  process.exit(counts.failed ? 1 : 0);
}

main();
