// preprocess.js: turn a drawing into the 28x28 image an MNIST model expects,
// the way MNIST itself was made: crop to the ink's bounding box, scale it
// into a 20x20 box keeping its aspect ratio (area averaging, so strokes keep
// grey edges), then place it in 28x28 so that its centre of mass sits at the
// centre. Pure functions on arrays: the pages and the node tests share them.

export const SIDE = 28;
export const BOX = 20;

// Bounding box of the pixels above `threshold` in ink (h, w), or null.
export function inkBounds(ink, w, h, threshold = 0) {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (ink[row + x] > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : {x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1};
}

// Area-average the rectangle r of src (sw wide) into dst (dw, dh): each
// output pixel is the mean of the source area it covers, with partial
// pixels weighted by their overlap.
export function resizeArea(src, sw, r, dw, dh) {
  const dst = new Float32Array(dw * dh);
  const fx = r.w / dw, fy = r.h / dh;
  for (let oy = 0; oy < dh; oy++) {
    const sy0 = r.y + oy * fy, sy1 = sy0 + fy;
    for (let ox = 0; ox < dw; ox++) {
      const sx0 = r.x + ox * fx, sx1 = sx0 + fx;
      let sum = 0;
      for (let y = Math.floor(sy0); y < Math.ceil(sy1); y++) {
        const wy = Math.min(y + 1, sy1) - Math.max(y, sy0);
        if (wy <= 0) continue;
        for (let x = Math.floor(sx0); x < Math.ceil(sx1); x++) {
          const wx = Math.min(x + 1, sx1) - Math.max(x, sx0);
          if (wx > 0) sum += src[y * sw + x] * wx * wy;
        }
      }
      dst[oy * dw + ox] = sum / (fx * fy);
    }
  }
  return dst;
}

// ink: (h, w) values 0..255 (255 = full ink). Returns the 28x28 image,
// 0..255 white on black, or null when nothing is drawn.
export function mnistFromInk(ink, w, h) {
  const b = inkBounds(ink, w, h);
  if (!b) return null;
  // the longer side becomes 20 pixels; a dot or a line keeps at least one
  const s = BOX / Math.max(b.w, b.h);
  const dw = Math.max(1, Math.round(b.w * s)), dh = Math.max(1, Math.round(b.h * s));
  const small = resizeArea(ink, w, b, dw, dh);
  // centre of mass of the scaled ink
  let m = 0, mx = 0, my = 0;
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++) {
      const v = small[y * dw + x];
      m += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  // integer shift that brings the centre of mass nearest to the middle,
  // kept inside the frame
  const ox = Math.min(SIDE - dw, Math.max(0, Math.round(SIDE / 2 - mx / m)));
  const oy = Math.min(SIDE - dh, Math.max(0, Math.round(SIDE / 2 - my / m)));
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++) out[(y + oy) * SIDE + x + ox] = Math.min(255, Math.round(small[y * dw + x]));
  return out;
}

// x * scale + offset, the model's own preprocessing (metadata.json).
export function applyPreprocessing(raw, pre) {
  const scale = pre && Number.isFinite(pre.scale) ? pre.scale : 1;
  const offset = pre && Number.isFinite(pre.offset) ? pre.offset : 0;
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] * scale + offset;
  return out;
}

// Softmax outputs to [{label, p}] in class order; sorted copy via topK.
export function labelled(probs, classes) {
  return Array.from(probs, (p, i) => ({index: i, label: classes && classes[i] != null ? String(classes[i]) : String(i), p}));
}

export function topK(items, k) {
  return items.slice().sort((a, b) => b.p - a.p).slice(0, k);
}
