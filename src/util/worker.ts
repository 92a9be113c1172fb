// Worker threads for kep's own worker scripts. A script is TypeScript in a source checkout and
// JavaScript in the built package; a TypeScript worker needs tsx registered inside it, and neither
// `node --import tsx` (Node 20 does not apply its hooks to workers) nor bin/kep.js's in-process
// register() reaches it, so the worker registers this package's own tsx first, whatever the
// current directory.
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startWorker(script: URL, options: WorkerOptions = {}): Worker {
  if (!script.pathname.endsWith('.ts')) return new Worker(script, options);
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(script.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
