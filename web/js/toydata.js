// toydata.js: the playground's 2-D data sets, made here from a seed (an ES
// module; node tests import it too). Points lie in the square [-6, 6]^2 with
// a label 0 or 1; the shapes are those a playground of small networks
// usually offers:
//   xor        uniform points, class 1 where x and y have the same sign
//              (points kept 0.5 away from the axes, so a margin exists)
//   circles    class 1 in a disc of radius 2.5, class 0 in a ring from 3.5 to 5
//   spiral     two interleaved arms, one per class, turning 1.75 times
//   gaussians  two round clouds around (2, 2) (class 1) and (-2, -2) (class 0)
// noise (0..1) moves each point after its label is fixed (so classes overlap
// as it grows); for gaussians it widens the clouds instead.

export const DATASETS = {
  xor: 'Exclusive or',
  circles: 'Circles',
  spiral: 'Spiral',
  gaussians: 'Two Gaussians',
};

export const EXTENT = 6; // the square drawn: [-EXTENT, EXTENT]^2

// A small seeded generator (xorshift32 on an integer state), uniform in [0, 1).
export function rng(seed) {
  let s = (Math.imul(seed >>> 0 || 1, 0x9e3779b1) ^ 0x5bd1e995) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  for (let i = 0; i < 8; i++) next(); // nearby seeds start far apart
  const uniform = (lo = 0, hi = 1) => lo + (hi - lo) * next();
  let spare = null;
  const normal = () => { // Box-Muller, both values used
    if (spare != null) {
      const v = spare;
      spare = null;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - next())), t = 2 * Math.PI * next();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
  return {next, uniform, normal};
}

const makers = {
  xor(n, noise, r) {
    const pts = [];
    const away = (v) => v + (v > 0 ? 0.5 : -0.5); // off the axes
    for (let i = 0; i < n; i++) {
      const x = away(r.uniform(-5, 5)), y = away(r.uniform(-5, 5));
      const label = x * y >= 0 ? 1 : 0;
      pts.push({x: x + r.uniform(-5, 5) * noise, y: y + r.uniform(-5, 5) * noise, label});
    }
    return pts;
  },
  circles(n, noise, r) {
    const pts = [];
    const R = 5;
    for (let i = 0; i < n; i++) {
      const inner = i < n / 2;
      const rad = inner ? r.uniform(0, 0.5 * R) : r.uniform(0.7 * R, R), a = r.uniform(0, 2 * Math.PI);
      pts.push({x: rad * Math.sin(a) + r.uniform(-R, R) * noise, y: rad * Math.cos(a) + r.uniform(-R, R) * noise,
        label: inner ? 1 : 0});
    }
    return pts;
  },
  spiral(n, noise, r) {
    const pts = [];
    const half = Math.floor(n / 2);
    for (const [label, turn] of [[1, 0], [0, Math.PI]]) {
      const m = label ? half : n - half;
      for (let i = 0; i < m; i++) {
        const f = i / m, rad = 5 * f, a = 1.75 * 2 * Math.PI * f + turn;
        pts.push({x: rad * Math.sin(a) + r.uniform(-1, 1) * noise, y: rad * Math.cos(a) + r.uniform(-1, 1) * noise, label});
      }
    }
    return pts;
  },
  gaussians(n, noise, r) {
    const pts = [];
    const sd = Math.sqrt(0.5 + 3.5 * noise); // variance 0.5 at no noise, 4 at full
    for (let i = 0; i < n; i++) {
      const label = i < n / 2 ? 1 : 0, c = label ? 2 : -2;
      pts.push({x: c + sd * r.normal(), y: c + sd * r.normal(), label});
    }
    return pts;
  },
};

// n points of a data set, shuffled and split: the first round(n * trainRatio)
// are for training. -> {train: [{x, y, label}], test: [...]}
export function makeData(name, {n = 500, noise = 0, trainRatio = 0.5, seed = 1} = {}) {
  const make = makers[name];
  if (!make) throw new Error(`unknown data set '${name}' (${Object.keys(makers).join(', ')})`);
  const r = rng(seed);
  const pts = make(n, noise, r);
  for (let i = pts.length - 1; i > 0; i--) { // Fisher-Yates
    const j = Math.floor(r.next() * (i + 1));
    [pts[i], pts[j]] = [pts[j], pts[i]];
  }
  const k = Math.round(pts.length * trainRatio);
  return {train: pts.slice(0, k), test: pts.slice(k)};
}
