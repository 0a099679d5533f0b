// backprop.js: the backprop page. The engine in the worker explains one
// network description (engine.explain: the trace of `mlexp explain
// --format json`, docs/explain.md); the page draws the network, a node per
// unit and an edge per weight, and walks through the trace one frame at a
// time: the input and weights, each forward value, the loss, each gradient
// in backward order with its chain rule, each weight's update. The numbers
// shown are the trace's; this file only lays them out.
import {EngineClient} from './engine-client.js';
import {api, clearError, el, param, setStatus, showError, state} from './common.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const SVG = 'http://www.w3.org/2000/svg';
const MAX_UNITS = 10, MAX_EDGES = 80; // larger networks are drawn a box per value
const COL = 420, NW = 160, NH = 76; // column spacing, a unit's box

const client = new EngineClient();
let trace = null, frames = [], at = 0, sample = 0, layout = null;

// numbers as the trace's lines print them (6 significant digits)
const fmt = (v) => (Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v));
const size = (shape) => shape.reduce((a, b) => a * b, 1);

// ---- the frames: what each click shows ----

function buildFrames(t) {
  const out = [];
  t.steps.forEach((s, k) => {
    out.push({kind: 'start', step: k, name: t.input.name});
    if (s.lookahead) out.push({kind: 'lookahead', step: k, name: 'lookahead'});
    s.forward.forEach((f, i) => out.push({kind: 'forward', step: k, index: i, name: f.name}));
    out.push({kind: 'loss', step: k, name: 'loss'});
    s.backward.forEach((b, i) => out.push({kind: 'backward', step: k, index: i, name: b.grad_of}));
    s.update.params.forEach((p, i) => out.push({kind: 'update', step: k, index: i, name: p.name}));
  });
  return out;
}

// What is shown at frame i: the step's values and gradients revealed so
// far, and the weights as they stand (before the step, at the look-ahead
// point, or updated).
function shownAt(i) {
  const f = frames[i], s = trace.steps[f.step];
  const st = {values: new Map(), grads: new Map(), weights: new Map(), wgrads: new Map(), updated: new Set(), loss: null};
  for (const w of s.weights) st.weights.set(w.name, w.data);
  let j = i;
  while (j > 0 && frames[j - 1].step === f.step) j--;
  for (; j <= i; j++) {
    const g = frames[j];
    if (g.kind === 'start') st.values.set(trace.input.name, trace.input.data);
    else if (g.kind === 'lookahead') for (const w of s.lookahead) st.weights.set(w.name, w.data);
    else if (g.kind === 'forward') st.values.set(g.name, s.forward[g.index].data);
    else if (g.kind === 'loss') st.loss = s.loss;
    else if (g.kind === 'backward') {
      const b = s.backward[g.index]; // without data when the engine skips it (softmax and cross-entropy together)
      if (b.data) (b.param ? st.wgrads : st.grads).set(g.name, b.data);
    }
    else if (g.kind === 'update') {
      st.weights.set(g.name, s.update.params[g.index].after);
      st.updated.add(g.name);
    }
  }
  return st;
}

// ---- layout: columns of units, or a box per value ----

// Columns of units for a chain of Dense layers and activations on vectors
// (a Dense and the activation of its output share a column: each unit shows
// z and f(z)); null when the network is something else or too large.
function unitLayout(t) {
  const cols = [], colOf = new Map();
  for (const v of t.graph) {
    const n = size(v.shape);
    if (v.shape.length !== 1 || n > MAX_UNITS) return null;
    if (v.op === 'input') {
      cols.push({a: v, z: null, n});
      colOf.set(v.value, 0);
      continue;
    }
    const src = v.inputs?.length === 1 ? colOf.get(v.inputs[0]) : undefined;
    if (src === undefined) return null;
    const c = cols[src];
    if (v.op === 'Dense') {
      cols.push({z: v, a: null, n, from: src, kernel: v.params[0], bias: v.params[1] ?? null});
    } else if (v.params?.length) {
      return null;
    } else if (c.z && !c.a && c.z.value === v.inputs[0] && c.n === n) {
      c.a = v; // the activation of a Dense's output
      colOf.set(v.value, src);
      continue;
    } else {
      cols.push({z: null, a: v, n, from: src, mix: /softmax/.test(v.op)}); // an activation on its own
    }
    colOf.set(v.value, cols.length - 1);
  }
  const edges = cols.reduce((e, c) => e + (c.from != null ? cols[c.from].n * c.n : 0), 0);
  if (edges > MAX_EDGES) return null;
  const rows = Math.max(...cols.map((c) => c.n));
  const W = 100 + (cols.length - 1) * COL + 360, H = 150 + 100 * rows;
  const x = (c) => 100 + c * COL;
  const y = (c, j) => 140 + (H - 170) / 2 + (j - (cols[c].n - 1) / 2) * 100;
  const L = {kind: 'units', cols, W, H, x, y, loss: {x: x(cols.length - 1) + 260, y: 140 + (H - 170) / 2}};
  L.edges = weightEdges(t, L);
  return L;
}

// Every weight's edge (kernel[i, j] from unit i to unit j, bias[j] from the
// column's "1"), with a place for its label: the first of some points along
// the edge where it overlaps no unit and no label placed before (else the
// least covered), so that labels stay put from frame to frame.
function weightEdges(t, {cols, x, y}) {
  // the widest label a weight's edge will carry: weight, "  ∂ ", gradient
  const widest = new Map();
  const grow = (name, values, extra) => {
    const n = Math.max(...values.map((v) => fmt(v).length)) + extra;
    widest.set(name, Math.max(widest.get(name) ?? 0, n));
  };
  for (const s of t.steps) {
    for (const w of [...s.weights, ...(s.lookahead ?? [])]) grow(w.name, w.data, 0);
    for (const p of s.update.params) grow(p.name, p.after, 0);
  }
  const grads = new Map();
  for (const s of t.steps) for (const b of s.backward) if (b.param && b.data) grads.set(b.grad_of, Math.max(grads.get(b.grad_of) ?? 0, ...b.data.map((v) => fmt(v).length)));
  const width = (name) => 6.8 * ((widest.get(name) ?? 6) + 4 + (grads.get(name) ?? 0)) + 6;
  const taken = []; // boxes {x0, y0, x1, y1}
  cols.forEach((c, ci) => {
    for (let j = 0; j < c.n; j++) taken.push({x0: x(ci) - NW / 2, x1: x(ci) + NW / 2, y0: y(ci, j) - NH / 2, y1: y(ci, j) + NH / 2});
  });
  // how much a box overlaps what is placed (area)
  const overlap = (b) => taken.reduce((a, o) => a + Math.max(0, Math.min(b.x1, o.x1) - Math.max(b.x0, o.x0)) *
    Math.max(0, Math.min(b.y1, o.y1) - Math.max(b.y0, o.y0)), 0);
  const place = (e, name, ts) => {
    const w = width(name);
    const at = (t) => ({x: e.x1 + (e.x2 - e.x1) * t, y: e.y1 + (e.y2 - e.y1) * t});
    const box = (p) => ({x0: p.x - w / 2, x1: p.x + w / 2, y0: p.y - 8, y1: p.y + 8});
    let best = ts[0], least = Infinity; // the first free place, else the least covered
    for (const t of ts) {
      const o = overlap(box(at(t)));
      if (o < least) [best, least] = [t, o];
      if (!o) break;
    }
    const p = at(best);
    taken.push(box(p));
    return {...e, lx: p.x, ly: p.y};
  };
  const edges = [];
  const ALONG = [0.5, 0.36, 0.64, 0.28, 0.72, 0.43, 0.57, 0.22, 0.78];
  cols.forEach((c, ci) => {
    if (!c.kernel) return;
    const src = cols[c.from];
    for (let i = 0; i < src.n; i++)
      for (let j = 0; j < c.n; j++)
        edges.push(place({param: c.kernel, k: i * c.n + j, x1: x(c.from) + NW / 2, y1: y(c.from, i), x2: x(ci) - NW / 2, y2: y(ci, j)},
          c.kernel, ALONG));
  });
  cols.forEach((c, ci) => {
    if (!c.bias) return;
    const bx = x(c.from) + NW / 2 + 20;
    taken.push({x0: bx - 14, x1: bx + 14, y0: 26, y1: 54});
    for (let j = 0; j < c.n; j++)
      edges.push(place({param: c.bias, k: j, bias: true, bx, x1: bx, y1: 40, x2: x(ci) - NW / 2, y2: y(ci, j) - NH / 2 + 8},
        c.bias, [0.3, 0.42, 0.54, 0.66, 0.2, 0.78]));
  });
  return edges;
}

function boxLayout(t) {
  const vals = t.graph;
  const W = Math.max(760, 170 * vals.length + 170), H = 260;
  return {kind: 'boxes', vals, W, H, x: (i) => 80 + i * 170, y: () => 130, loss: {x: 80 + vals.length * 170, y: 130}};
}

// ---- drawing ----

function svgEl(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

// a number of the trace: its text, with the key and exact value for tests
function num(key, label, v, cls, x, y, anchor = 'start') {
  return svgEl('text', {x, y, 'data-key': key, 'data-v': String(v), class: cls, 'text-anchor': anchor}, `${label}${fmt(v)}`);
}

// an edge's label on one line: the weight, then ∂ its gradient once known
function edgeLabel(param, k, w, g, updated, hot, x, y) {
  const t = svgEl('text', {x, y: y + 4, 'text-anchor': 'middle', class: `edge-label${hot ? ' current' : ''}`});
  if (w) t.append(svgEl('tspan', {'data-key': `w:${param}[${k}]`, 'data-v': String(w[k]), class: `weight${updated ? ' updated' : ''}`}, fmt(w[k])));
  if (g) t.append(svgEl('tspan', {class: 'grad'}, '  ∂ '), svgEl('tspan', {'data-key': `g:${param}[${k}]`, 'data-v': String(g[k]), class: 'grad'}, fmt(g[k])));
  return t;
}

// What a frame highlights: a value's numbers, a weight's edges, the loss.
function currentKeys(f) {
  if (f.kind === 'forward') return {value: f.name};
  if (f.kind === 'backward') return {grad: f.name};
  if (f.kind === 'update') return {weight: f.name};
  if (f.kind === 'loss') return {loss: true};
  if (f.kind === 'start' || f.kind === 'lookahead') return {start: true};
  return {};
}

function drawUnits(svg, st, cur) {
  const {cols, x, y} = layout;
  const s = sample;
  const edgesG = svgEl('g', {class: 'edges'}), nodesG = svgEl('g', {class: 'nodes'}), labelsG = svgEl('g', {class: 'labels'});
  svg.append(edgesG, nodesG, labelsG);
  for (const e of layout.edges) {
    const w = st.weights.get(e.param), g = st.wgrads.get(e.param), hot = cur.weight === e.param || cur.grad === e.param;
    edgesG.append(svgEl('line', {x1: e.x1, y1: e.y1, x2: e.x2, y2: e.y2, class: `edge${e.bias ? ' bias' : ''}${hot ? ' current' : ''}`,
      'data-edge': `${e.param}[${e.k}]`}));
    labelsG.append(edgeLabel(e.param, e.k, w, g, st.updated.has(e.param), hot, e.lx, e.ly));
  }
  for (const bx of new Set(layout.edges.filter((e) => e.bias).map((e) => e.bx)))
    nodesG.append(svgEl('circle', {cx: bx, cy: 40, r: 13, class: 'bias-node'}), svgEl('text', {x: bx, y: 44, class: 'bias-one', 'text-anchor': 'middle'}, '1'));
  // activations on their own: an edge per unit (all to all for a softmax)
  cols.forEach((c, ci) => {
    if (c.from == null || c.kernel) return;
    const src = cols[c.from];
    for (let i = 0; i < src.n; i++)
      for (let j = 0; j < c.n; j++)
        if (c.mix || i === j)
          edgesG.append(svgEl('line', {x1: x(c.from) + NW / 2, y1: y(c.from, i), x2: x(ci) - NW / 2, y2: y(ci, j), class: 'edge plain'}));
  });
  // units: the values of the column (z, then f(z)) and their gradients
  cols.forEach((c, ci) => {
    const vals = [c.z, c.a].filter(Boolean);
    for (let j = 0; j < c.n; j++) {
      const cx = x(ci), cy = y(ci, j), hot = vals.some((v) => cur.value === v.value || cur.grad === v.value);
      const g = svgEl('g', {class: `unit${hot ? ' current' : ''}`, 'data-unit': `${ci}:${j}`});
      g.append(svgEl('rect', {x: cx - NW / 2, y: cy - NH / 2, width: NW, height: NH, rx: 10}));
      const lines = [];
      for (const v of vals) {
        const d = st.values.get(v.value);
        if (d) lines.push([`v:${v.value}[${s * c.n + j}]`, `${v.symbol}[${j}] = `, d[s * c.n + j], cur.value === v.value ? 'value current' : 'value']);
      }
      for (const v of [...vals].reverse()) {
        const d = st.grads.get(v.value);
        if (d) lines.push([`g:${v.value}[${s * c.n + j}]`, `∂L/∂${v.symbol}[${j}] = `, d[s * c.n + j], cur.grad === v.value ? 'grad current' : 'grad']);
      }
      if (!lines.length) g.append(svgEl('text', {x: cx, y: cy + 4, class: 'placeholder', 'text-anchor': 'middle'}, vals.map((v) => `${v.symbol}[${j}]`).join(' → ')));
      lines.forEach(([key, label, v, cls], k) => g.append(num(key, label, v, cls, cx - NW / 2 + 8, cy - NH / 2 + 17 + 16 * k)));
      nodesG.append(g);
    }
  });
  drawLoss(svg, st, cur, x(cols.length - 1) + NW / 2, cols[cols.length - 1].n, (j) => y(cols.length - 1, j));
}

function drawBoxes(svg, st, cur) {
  const {vals, x, y} = layout;
  const BW = 130, BH = 70;
  vals.forEach((v, i) => {
    if (i > 0) svg.append(svgEl('line', {x1: x(i - 1) + BW / 2, y1: y(), x2: x(i) - BW / 2, y2: y(), class: 'edge plain'}));
  });
  vals.forEach((v, i) => {
    const hot = cur.value === v.value || cur.grad === v.value || (v.params || []).some((p) => cur.weight === p || cur.grad === p);
    const g = svgEl('g', {class: `unit box${hot ? ' current' : ''}`});
    g.append(svgEl('rect', {x: x(i) - BW / 2, y: y() - BH / 2, width: BW, height: BH, rx: 10}));
    g.append(svgEl('text', {x: x(i), y: y() - 12, 'text-anchor': 'middle', class: 'value'}, `${v.symbol} (${v.shape.join('×')})`));
    g.append(svgEl('text', {x: x(i), y: y() + 6, 'text-anchor': 'middle', class: 'muted-text'}, v.op));
    const marks = [st.values.has(v.value) ? 'forward ✓' : null, st.grads.has(v.value) ? '∂ ✓' : null].filter(Boolean).join('  ');
    g.append(svgEl('text', {x: x(i), y: y() + 24, 'text-anchor': 'middle', class: 'grad'}, marks));
    svg.append(g);
  });
  drawLoss(svg, st, cur, x(vals.length - 1) + BW / 2, 1, () => y());
}

function drawLoss(svg, st, cur, fromX, n, yOf) {
  const {x: lx, y: ly} = layout.loss;
  for (let j = 0; j < n; j++) svg.append(svgEl('line', {x1: fromX, y1: yOf(j), x2: lx - 60, y2: ly, class: 'edge plain'}));
  const g = svgEl('g', {class: `unit loss${cur.loss ? ' current' : ''}`});
  g.append(svgEl('rect', {x: lx - 60, y: ly - 34, width: 140, height: 68, rx: 10}));
  const per = size(trace.targets.shape) / trace.batch;
  const t = trace.targets.data.slice(sample * per, (sample + 1) * per).map(fmt).join(', ');
  g.append(svgEl('text', {x: lx - 52, y: ly - 14, class: 'muted-text'}, `target ${t}`));
  if (st.loss) g.append(num('loss', 'L = ', st.loss.value, `value${cur.loss ? ' current' : ''}`, lx - 52, ly + 6));
  else g.append(svgEl('text', {x: lx - 52, y: ly + 6, class: 'placeholder'}, 'L'));
  svg.append(g);
}

// ---- the explanation of a frame ----

function linesList(lines, cls = 'lines') {
  return lines?.length ? el('ol', {class: cls}, lines.map((l) => el('li', {text: l}))) : null;
}

function explain(f) {
  const s = trace.steps[f.step], opt = trace.optimizer;
  const parts = [];
  const h = (text) => parts.push(el('h3', {text}));
  const p = (text, cls) => parts.push(el('p', {class: cls, text}));
  if (f.kind === 'start') {
    h(`Step ${s.step}: the input and the weights`);
    if (f.step === 0 && trace.description) p(trace.description, 'muted');
    p(`${trace.input.symbol} = [${trace.input.data.map(fmt).join(', ')}]${trace.batch > 1 ? ` (${trace.batch} samples)` : ''}; targets [${trace.targets.data.map(fmt).join(', ')}]`);
    parts.push(linesList(s.weights.map((w) => `${w.symbol} = [${w.data.map(fmt).join(', ')}]  (${w.shape.join('×')})`)));
    p(`Loss: ${trace.loss.formula}`);
    p(`Optimizer: ${opt.class_name}, ${opt.form_title}, learning rate ${fmt(s.learning_rate)}`);
    parts.push(linesList(opt.formulas, 'lines formulas'));
  } else if (f.kind === 'lookahead') {
    h('The look-ahead point');
    p('Textbook Nesterov momentum takes the gradient at w + momentum · v: the forward and backward pass run at these weights.');
    parts.push(linesList(s.lookahead.map((w) => `${w.symbol} = [${w.data.map(fmt).join(', ')}]`)));
  } else if (f.kind === 'forward') {
    const e = s.forward[f.index];
    h(`Forward: ${e.formula}`);
    parts.push(linesList(e.lines) || el('p', {class: 'muted', text: `${e.symbol} = [${e.data.map(fmt).join(', ')}]`}));
  } else if (f.kind === 'loss') {
    h('The loss');
    p(s.loss.formula);
    parts.push(linesList(s.loss.lines));
    if (s.loss.regularization) p(`data loss ${fmt(s.loss.data_loss)} + regularization ${fmt(s.loss.regularization)} = ${fmt(s.loss.value)}`);
  } else if (f.kind === 'backward') {
    const e = s.backward[f.index];
    h(`Backward: ∂L/∂${e.symbol}`);
    if (e.rule) p(e.rule, 'rule');
    if (e.factor_lines) {
      p('the chain rule\'s factor:', 'muted small');
      parts.push(linesList(e.factor_lines));
    }
    parts.push(linesList(e.lines) || (e.data ? el('p', {class: 'muted', text: `∂L/∂${e.symbol} = [${e.data.map(fmt).join(', ')}]`}) : null));
    if (e.note) p(e.note, 'muted');
  } else if (f.kind === 'update') {
    const u = s.update, e = u.params[f.index];
    h(`Update: ${e.symbol}`);
    parts.push(linesList(opt.formulas, 'lines formulas'));
    const facts = [`t = ${u.t}`, `learning rate ${fmt(u.learning_rate)}`];
    if (u.alpha_t != null) facts.push(`alpha_t = ${fmt(u.alpha_t)}`);
    p(facts.join(' · '), 'muted');
    parts.push(linesList(e.lines));
  }
  return parts.filter(Boolean);
}

// ---- rendering ----

function stepLabel(f) {
  const s = trace.steps[f.step];
  const count = {forward: s.forward.length, backward: s.backward.length, update: s.update.params.length}[f.kind];
  const what = {start: 'the input and weights', lookahead: 'the look-ahead point', loss: 'the loss'}[f.kind] ??
    `${f.kind} ${f.index + 1}/${count}: ${f.kind === 'forward' ? s.forward[f.index].symbol : f.kind === 'backward' ? `∂L/∂${s.backward[f.index].symbol}` : s.update.params[f.index].symbol}`;
  return `step ${s.step} of ${trace.steps.length} · ${what} (${at + 1}/${frames.length})`;
}

function render() {
  const f = frames[at], st = shownAt(at), cur = currentKeys(f);
  const svg = $('diagram');
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${layout.W} ${layout.H}`);
  if (layout.kind === 'units') drawUnits(svg, st, cur);
  else drawBoxes(svg, st, cur);
  const ts = $('trace-step');
  ts.textContent = stepLabel(f);
  Object.assign(ts.dataset, {frame: String(at), frames: String(frames.length), kind: f.kind, name: f.name, step: String(f.step)});
  $('explanation').replaceChildren(...explain(f));
  $('prev').disabled = at === 0;
  $('next').disabled = at === frames.length - 1;
  state.frame = at;
}

function go(i) {
  if (!trace) return;
  at = Math.max(0, Math.min(frames.length - 1, i));
  render();
}

// ---- loading ----

async function show(text, origin) {
  clearError();
  setStatus('explaining…', true);
  const {trace: t, ms} = await client.explain(text, {origin});
  trace = t;
  frames = buildFrames(t);
  layout = unitLayout(t) || boxLayout(t);
  sample = 0;
  $('sample-label').hidden = t.batch <= 1;
  $('sample').replaceChildren(...Array.from({length: t.batch}, (_, i) => el('option', {value: i, text: String(i)})));
  $('diagram-note').textContent = layout.kind === 'units'
    ? `${t.name}: a box per unit, an edge per weight (labels: the weight, then ∂ its gradient)${t.batch > 1 ? '; units show the chosen sample, weight gradients are over the batch' : ''}.`
    : `${t.name}: a box per value (the network is not a small chain of Dense layers); the numbers are below.`;
  Object.assign(state, {trace: t, frames: frames.map(({kind, step, name}) => ({kind, step, name})), explainMs: ms});
  go(0);
  setStatus(`ready: ${frames.length} frames, traced in ${ms.toFixed(1)} ms${t.check.ok ? '' : ' (the trace\'s check failed)'}`);
}

async function loadExample(entry) {
  if (entry.error) throw new Error(entry.error);
  state.example = entry.name;
  const r = await fetch(entry.url);
  if (!r.ok) throw new Error(`${entry.url}: HTTP ${r.status}`);
  const text = await r.text();
  $('description').value = text;
  const q = new URLSearchParams(location.search);
  q.set('example', entry.name);
  history.replaceState(null, '', `?${q}`);
  await show(text, `${entry.name}.json`);
}

async function main() {
  let examples = [];
  const guard = (fn) => async (...a) => {
    try {
      await fn(...a);
    } catch (e) {
      showError(e);
    }
  };
  $('next').addEventListener('click', () => go(at + 1));
  $('prev').addEventListener('click', () => go(at - 1));
  $('reset').addEventListener('click', () => go(0));
  $('sample').addEventListener('change', () => {
    sample = Number($('sample').value);
    render();
  });
  document.addEventListener('keydown', (e) => {
    if (e.target.closest('textarea, select, input')) return;
    if (e.key === 'ArrowRight') go(at + 1);
    else if (e.key === 'ArrowLeft') go(at - 1);
  });
  $('example-select').addEventListener('change', guard(() => loadExample(examples.find((x) => x.name === $('example-select').value))));
  $('run-description').addEventListener('click', guard(() => show($('description').value, 'your description')));
  try {
    setStatus('loading…', true);
    examples = (await api('/api/explain/examples')).examples;
    if (!examples.length) throw new Error('no network descriptions: mlexp serve lists examples/explain/ (--examples DIR)');
    $('example-select').replaceChildren(...examples.map((x) => el('option', {value: x.name, text: x.error ? `${x.name} (broken)` : x.title})));
    const wanted = param('example') || 'sigmoid_221';
    const entry = examples.find((x) => x.name === wanted) || examples.find((x) => !x.error) || examples[0];
    $('example-select').value = entry.name;
    await loadExample(entry);
    document.body.classList.remove('loading');
  } catch (e) {
    showError(e);
  }
}

main();
