// index.js: the home page: the tools (pages that need no trained model)
// and a card per model the server has.
import {el, listModels, percent, setStatus, showError} from './common.js';

const KIND = {drawing: 'draw', image: 'photo', tensor: 'tensor'};

const TOOLS = [
  {name: 'playground', href: '/playground.html', title: 'Playground: train a network live',
    text: 'A small network learns XOR, circles, spirals or two Gaussians in your browser while you change its layers, activation, learning rate and regularization.'},
  {name: 'backprop', href: '/backprop.html', title: 'Backpropagation, step by step',
    text: 'One training step of a tiny network, one click at a time: forward values, the loss, each gradient by the chain rule, the update.'},
];

function toolCard(t) {
  return el('a', {class: 'card', href: t.href, 'data-testid': 'tool-card', 'data-tool': t.name},
    el('span', {class: 'tag', text: 'tool'}), el('h3', {text: t.title}), el('span', {class: 'meta', text: t.text}));
}

function card(m) {
  const acc = Number.isFinite(m.test_accuracy) ? `test accuracy ${percent(m.test_accuracy, 2)} · ` : '';
  const body = [
    el('span', {class: 'tag', text: KIND[m.kind] || m.kind}),
    el('h3', {text: m.title || m.name}),
    el('span', {class: 'muted small', text: m.name}),
    m.error ? el('span', {class: 'error small', text: m.error}) : null,
    el('span', {class: 'meta', text: `${acc}${(m.params || 0).toLocaleString('en')} parameters`}),
  ];
  return m.page && !m.error
    ? el('a', {class: 'card', href: m.page, 'data-testid': 'model-card', 'data-model': m.name}, body)
    : el('div', {class: 'card', 'data-testid': 'model-card', 'data-model': m.name}, body);
}

async function main() {
  document.querySelector('[data-testid="tools"]').replaceChildren(...TOOLS.map(toolCard));
  try {
    const models = await listModels();
    const cards = document.querySelector('[data-testid="cards"]');
    cards.replaceChildren(...models.map(card));
    setStatus(models.length ? `${models.length} models` : 'no models: start mlexp serve with --models DIR');
  } catch (e) {
    showError(e);
  }
}

main();
