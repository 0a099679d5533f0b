// npy.js: the .npy files the parity tests exchange with mlexp: version 1.0,
// little-endian float32 ('<f4'), C order. Reading also accepts versions 2/3.
'use strict';
const fs = require('fs');

// -> {shape: [..], data: Float32Array}
function load(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${path}: bad .npy header ${header}`);
  if (descr[1] !== '<f4' || fortran[1] !== 'False')
    throw new Error(`${path}: need '<f4' in C order, got '${descr[1]}', fortran_order ${fortran[1]}`);
  const dims = shape[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  if (buf.length < off + 4 * n) throw new Error(`${path}: ${buf.length - off} data bytes, shape needs ${4 * n}`);
  // copy: the Buffer's offset need not be 4-aligned
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(off + 4 * i);
  return { shape: dims, data };
}

function save(path, shape, data) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // pad with spaces so the data starts at a multiple of 64, header ends in '\n'
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = Buffer.alloc(10 + header.length + 4 * data.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], 10 + header.length + 4 * i);
  fs.writeFileSync(path, out);
}

module.exports = { load, save };
