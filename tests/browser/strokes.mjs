// strokes.mjs: turn a real digit image into pen strokes, as a person would
// draw it: threshold, thin to a one-pixel skeleton (Zhang and Suen's
// thinning), then follow the skeleton from its ends into polylines.

const N8 = [[0, -1], [1, -1], [1, 0], [1, 1], [0, 1], [-1, 1], [-1, 0], [-1, -1]]; // P2..P9 clockwise from north

// Zhang-Suen thinning of a binary image (Uint8Array, 1 = ink), in place.
export function thin(img, w, h) {
  const at = (x, y) => (x >= 0 && y >= 0 && x < w && y < h ? img[y * w + x] : 0);
  for (let changed = true; changed; ) {
    changed = false;
    for (const pass of [0, 1]) {
      const del = [];
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          if (!img[y * w + x]) continue;
          const p = N8.map(([dx, dy]) => at(x + dx, y + dy));
          const b = p.reduce((s, v) => s + v, 0);
          if (b < 2 || b > 6) continue;
          let a = 0;
          for (let i = 0; i < 8; i++) if (!p[i] && p[(i + 1) % 8]) a++;
          if (a !== 1) continue;
          // P2 P4 P6 / P4 P6 P8 in the first pass; P2 P4 P8 / P2 P6 P8 in the second
          const [p2, , p4, , p6, , p8] = p;
          if (pass === 0 ? p2 * p4 * p6 || p4 * p6 * p8 : p2 * p4 * p8 || p2 * p6 * p8) continue;
          del.push(y * w + x);
        }
      for (const i of del) img[i] = 0;
      if (del.length) changed = true;
    }
  }
  return img;
}

// Polylines (arrays of [x, y] pixel coordinates) that cover the skeleton.
export function trace(img, w, h) {
  const on = (x, y) => x >= 0 && y >= 0 && x < w && y < h && img[y * w + x];
  const seen = new Uint8Array(w * h);
  const nbrs = (x, y) => N8.map(([dx, dy]) => [x + dx, y + dy]).filter(([a, b]) => on(a, b));
  // 4-neighbours first: the walk follows the stroke instead of cutting corners
  const order = (list, x, y) => list.sort((p, q) => Math.abs(p[0] - x) + Math.abs(p[1] - y) - (Math.abs(q[0] - x) + Math.abs(q[1] - y)));
  const strokes = [];
  const walk = (x, y) => {
    const s = [];
    const prev = nbrs(x, y).find(([a, b]) => seen[b * w + a]);
    if (prev) s.push(prev); // join the branch this one grows from
    for (;;) {
      seen[y * w + x] = 1;
      s.push([x, y]);
      const next = order(nbrs(x, y).filter(([a, b]) => !seen[b * w + a]), x, y)[0];
      if (!next) break;
      [x, y] = next;
    }
    strokes.push(s);
  };
  const pixels = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (img[y * w + x]) pixels.push([x, y]);
  // ends first (one neighbour), then whatever is left (loops, like a 0)
  for (const [x, y] of pixels) if (!seen[y * w + x] && nbrs(x, y).length === 1) walk(x, y);
  for (const [x, y] of pixels) if (!seen[y * w + x]) walk(x, y);
  return strokes;
}

// A (28 x 28) digit, 0..255, to strokes in [0, 1] x [0, 1] coordinates.
export function digitStrokes(pixels, side = 28, threshold = 100) {
  const img = new Uint8Array(side * side);
  for (let i = 0; i < img.length; i++) img[i] = pixels[i] > threshold ? 1 : 0;
  thin(img, side, side);
  return trace(img, side, side).map((s) => s.map(([x, y]) => [(x + 0.5) / side, (y + 0.5) / side]));
}
