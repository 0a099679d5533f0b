// common.js: what every page shares: the JSON API, status and error lines,
// the probability bars and the model panel (summary, curves, report).

// window.mlexp: state the pages expose to tests and curious users
export const state = (window.mlexp = window.mlexp || {});

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null) e.append(c);
  return e;
}

// GET or POST JSON; a non-2xx answer throws with the server's message.
export async function api(path, options = {}) {
  let r;
  try {
    r = await fetch(path, options);
  } catch (e) {
    throw new Error(`cannot reach the server (${e.message}); is mlexp serve still running?`);
  }
  let body = null;
  try {
    body = await r.json();
  } catch {
    /* not JSON */
  }
  if (!r.ok) throw new Error(body && body.error ? body.error : `${path}: HTTP ${r.status}`);
  return body;
}

export function setStatus(text, busy = false) {
  const s = document.querySelector('[data-testid="status"]');
  if (!s) return;
  s.textContent = text;
  s.classList.toggle('busy', busy);
}

export function showError(err) {
  const msg = err instanceof Error ? err.message : String(err);
  const box = document.querySelector('[data-testid="error"]');
  if (box) {
    box.textContent = msg;
    box.hidden = false;
  }
  setStatus('error');
  state.error = msg;
  console.error(err);
}

export function clearError() {
  const box = document.querySelector('[data-testid="error"]');
  if (box) box.hidden = true;
}

export function percent(p, digits = 1) {
  return `${(100 * p).toFixed(digits)}%`;
}

// One bar per class, in class order; data-p holds the exact probability.
export function renderProbabilities(container, items, {highlight = true} = {}) {
  const best = items.reduce((a, b) => (b.p > a.p ? b : a), items[0]);
  container.replaceChildren(
    ...items.map((it) =>
      el(
        'div',
        {class: `prob${highlight && it === best ? ' best' : ''}`, 'data-label': it.label, 'data-p': String(it.p)},
        el('span', {class: 'prob-label', text: it.label}),
        el('span', {class: 'prob-bar'}, el('span', {class: 'prob-fill', style: `width:${(100 * it.p).toFixed(2)}%`})),
        el('span', {class: 'prob-value', text: percent(it.p)}),
      ),
    ),
  );
}

// A small line chart of history curves as SVG: series [{name, values}],
// plotted against xs (default 1, 2, ...: epochs), the last x labelled.
export function curveChart(title, series, {xs = null, xLabel = 'epoch'} = {}) {
  const W = 320, H = 150, P = 28;
  const pts = series.flatMap((s) => s.values.filter(Number.isFinite));
  if (!pts.length) return null;
  let lo = Math.min(...pts), hi = Math.max(...pts);
  if (hi - lo < 1e-9) hi = lo + 1;
  const n = Math.max(...series.map((s) => s.values.length));
  const x0 = xs ? xs[0] : 0, x1 = xs ? xs[n - 1] : n - 1;
  const x = (i) => P + ((W - P - 8) * ((xs ? xs[i] : i) - x0)) / Math.max(1e-9, x1 - x0);
  const y = (v) => H - P + 8 - ((H - P) * (v - lo)) / (hi - lo);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'chart');
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    svg.append(e);
    return e;
  };
  add('text', {x: W / 2, y: 12, class: 'chart-title', 'text-anchor': 'middle'}, title);
  add('line', {x1: P, y1: H - P + 8, x2: W - 8, y2: H - P + 8, class: 'axis'});
  add('text', {x: 2, y: y(hi) + 4, class: 'tick'}, hi.toPrecision(3));
  add('text', {x: 2, y: y(lo) + 4, class: 'tick'}, lo.toPrecision(3));
  add('text', {x: W - 8, y: H - 2, class: 'tick', 'text-anchor': 'end'}, `${xLabel} ${xs ? xs[n - 1] : n}`);
  series.forEach((s, k) => {
    const d = s.values
      .map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : null))
      .filter(Boolean)
      .join(' ');
    add('polyline', {points: d, class: `line line${k}`});
    add('text', {x: W - 8, y: 24 + 12 * k, class: `legend line${k}`, 'text-anchor': 'end'}, s.name);
  });
  return svg;
}

// The model panel: test metrics, curves, summary and the full report.
export function renderModelPanel(container, info) {
  const parts = [];
  const m = info.metrics || {};
  const facts = [
    ['parameters', info.params ? (info.params.trainable + info.params.non_trainable).toLocaleString('en') : '?'],
    ['input', `(${(info.input_shape || []).join(', ')})`],
  ];
  if (Number.isFinite(m.test_accuracy))
    facts.push(['test accuracy', `${percent(m.test_accuracy, 2)} on ${(m.test_samples || 0).toLocaleString('en')}`]);
  if (info.dataset) facts.push(['dataset', info.dataset]);
  parts.push(el('dl', {class: 'facts'}, facts.flatMap(([k, v]) => [el('dt', {text: k}), el('dd', {text: v})])));
  if (info.description) parts.push(el('p', {class: 'muted', text: info.description}));
  const eps = info.history && Array.isArray(info.history.epochs) ? info.history.epochs : [];
  if (eps.length) {
    const get = (k) => eps.map((e) => (e[k] == null ? NaN : e[k]));
    const charts = [
      curveChart('loss', [{name: 'train', values: get('loss')}, {name: 'test', values: get('val_loss')}]),
      curveChart('accuracy', [{name: 'train', values: get('accuracy')}, {name: 'test', values: get('val_accuracy')}]),
    ].filter(Boolean);
    parts.push(el('div', {class: 'charts'}, charts));
  }
  if (info.summary) parts.push(el('details', {}, el('summary', {text: 'Model summary'}), el('pre', {class: 'summary', text: info.summary})));
  const report = info.files && info.files.report;
  if (report) {
    const frame = el('iframe', {class: 'report', title: 'training report', loading: 'lazy'});
    const d = el('details', {}, el('summary', {}, 'Training report (curves, confusion matrix, mistakes) · ', el('a', {href: report, target: '_blank', text: 'open'})), frame);
    d.addEventListener('toggle', () => {
      if (d.open && !frame.src) frame.src = report;
    });
    parts.push(d);
  }
  container.replaceChildren(...parts);
}

// The list of models, with a clear message when there is none.
export async function listModels() {
  const j = await api('/api/models');
  return j.models || [];
}

export function param(name) {
  return new URLSearchParams(location.search).get(name);
}
