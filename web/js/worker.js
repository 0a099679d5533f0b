// worker.js: the module worker that owns the engine, so that pages never
// run it on their own thread (docs/web.md). Started by engine-client.js.
import {createEngine} from './engine.js';
import {makeHandler} from './worker-handler.js';

const engine = createEngine();
engine.catch(() => {}); // reported with the first request
const handle = makeHandler({engine, base: self.location.href});

self.onmessage = async (e) => {
  const reply = await handle(e.data);
  // hand the memory of typed arrays (output, losses, weights) over instead of copying it
  const transfer = Object.values(reply).filter((v) => ArrayBuffer.isView(v)).map((v) => v.buffer);
  self.postMessage(reply, [...new Set(transfer)]);
};
