// lib.mjs: what the browser suites share (run.mjs and playground.mjs): the
// pass/fail counts behind the last line "N passed, N failed", the server
// under test, Chromium, and page helpers.
import {spawn} from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const counts = {passed: 0, failed: 0};

export function ok(name) {
  counts.passed++;
  console.log(`ok   ${name}`);
}
export function bad(name, why) {
  counts.failed++;
  console.log(`FAIL ${name}: ${why}`);
}
export function check(name, cond, why) {
  cond ? ok(name) : bad(name, why);
  return cond;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// `mlexp serve` on a free port, once it answers /api/models
export async function startServer(bin, models) {
  const port = await freePort();
  const proc = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', String(port), '--models', models], {stdio: ['ignore', 'pipe', 'pipe']});
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode != null) throw new Error(`mlexp serve exited (${proc.exitCode}): ${log}`);
    try {
      const r = await fetch(`${base}/api/models`);
      if (r.ok) return {proc, base, log: () => log};
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`mlexp serve did not answer on ${base}: ${log}`);
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

export const tid = (id) => `[data-testid="${id}"]`;

// the page's status says ready, or it shows an error (thrown)
export async function ready(page, timeout = 60000) {
  await page.waitForFunction(() => {
    const s = document.querySelector('[data-testid="status"]');
    const e = document.querySelector('[data-testid="error"]');
    return (s && s.textContent.startsWith('ready')) || (e && !e.hidden);
  }, null, {timeout});
  const err = await page.$eval(tid('error'), (e) => (e.hidden ? null : e.textContent));
  if (err) throw new Error(`the page shows an error: ${err}`);
}
