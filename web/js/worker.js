// worker.js: the module worker that owns the engine, so that pages never
// run it on their own thread (docs/web.md). Started by engine-client.js.
import {createEngine} from './engine.js';
import {makeHandler} from './worker-handler.js';

const engine = createEngine();
engine.catch(() => {}); // reported with the first request
const handle = makeHandler({engine, base: self.location.href});

self.onmessage = async (e) => {
  const reply = await handle(e.data);
  // hand the output's memory over instead of copying it
  self.postMessage(reply, reply.output ? [reply.output.buffer] : []);
};
