// index.js: the home page, a card per model the server has.
import {el, listModels, percent, setStatus, showError} from './common.js';

const KIND = {drawing: 'draw', image: 'photo', tensor: 'tensor'};

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
