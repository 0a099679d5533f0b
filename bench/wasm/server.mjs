// server.mjs: a static file server for the benchmark page only, on
// 127.0.0.1, with the cross-origin isolation headers threaded WebAssembly
// needs (the same ones `mlexp serve` sends).
//   startServer({models}) -> {url, close}
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const TYPES = {'.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json',
  '.wasm': 'application/wasm', '.bin': 'application/octet-stream'};

export function startServer({models}) {
  const mounts = [ // URL prefix -> folder
    ['/wasm/', path.join(ROOT, 'build/wasm')],
    ['/js/', path.join(ROOT, 'web/js')],
    ['/models/', models],
    ['/tfjs/', path.join(HERE, 'node_modules/@tensorflow/tfjs/dist')],
    ['/tfjs-wasm/', path.join(HERE, 'node_modules/@tensorflow/tfjs-backend-wasm/dist')],
    ['/', path.join(HERE, 'page')],
  ];
  const server = http.createServer((req, res) => {
    const headers = {'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin', 'Cache-Control': 'no-store'};
    const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const m = mounts.find(([prefix]) => p.startsWith(prefix));
    const rel = m && p.slice(m[0].length);
    const file = rel !== undefined && !rel.split('/').includes('..') && path.join(m[1], rel || 'index.html');
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    headers['Content-Type'] = TYPES[path.extname(file)] || 'application/octet-stream';
    res.writeHead(200, headers);
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close()}));
  });
}
