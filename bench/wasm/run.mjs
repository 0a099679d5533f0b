// run.mjs [--model NAME] [--models DIR] [--rounds N] [--threads N] [--tf-threads N] [--profile 1]:
// the benchmark page (page/bench.js) in Debian's Chromium through Playwright;
// prints each engine's median milliseconds per call at batch 1 and 64 and
// the ratios to TF.js's wasm backend.
// TF.js's wasm backend uses at most half of navigator.hardwareConcurrency
// threads (it assumes two hyperthreads per core): on a 2-core machine, one.
// --tf-threads N makes the page report 2N cores so that it may use N.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';
import {startServer} from './server.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) =>
  (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const models = path.resolve(args.models || path.join(path.dirname(new URL(import.meta.url).pathname), '../../models'));
const server = await startServer({models});
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mlexp_bench_chromium.'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  if (args['tf-threads'])
    await context.addInitScript((n) => Object.defineProperty(Navigator.prototype, 'hardwareConcurrency',
      {get: () => n}), 2 * Number(args['tf-threads']));
  const page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => m.type() === 'error' && console.error(`page: ${m.text()}`));
  page.on('pageerror', (e) => console.error(`page: ${e.message}`));
  const q = new URLSearchParams({model: args.model || 'fashion_cnn', rounds: args.rounds || '10',
    threads: args.threads || String(Math.min(os.cpus().length, 8))});
  await page.goto(`${server.url}?${q}`);
  await page.waitForFunction(() => window.benchResult, null, {timeout: 600000, polling: 200});
  const r = await page.evaluate(() => window.benchResult);
  if (r.error) throw new Error(r.error);
  console.log(`${r.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? r.userAgent}, cross-origin isolated: ${r.crossOriginIsolated}, ` +
    `model ${r.model}; median ms per call (samples)`);
  const names = Object.keys(r.ms), tfName = names.find((n) => n.startsWith('tfjs'));
  const batches = Object.keys(r.ms[names[0]]);
  console.log(['engine'.padEnd(28), ...batches.map((b) => `batch ${b}`.padStart(16))].join(''));
  for (const n of names)
    console.log([n.padEnd(28), ...batches.map((b) => `${r.ms[n][b].toFixed(3)} (${r.samples[n][b]})`.padStart(16))].join(''));
  for (const n of names.filter((x) => x !== tfName))
    console.log([`${tfName} / ${n}`.padEnd(28), ...batches.map((b) => `${(r.ms[tfName][b] / r.ms[n][b]).toFixed(2)}x`.padStart(16))].join(''));
  if (args.profile) for (const p of Object.values(r.profiles)) console.log(p.trimEnd());
  console.log(`max |output - ${names[0]}|: ${Object.entries(r.agreement).map(([n, d]) => `${n} ${d.toExponential(2)}`).join(', ')}`);
} finally {
  await context?.close();
  server.close();
  fs.rmSync(profile, {recursive: true, force: true});
}
