// `npm run build`: the viewer's bundle beside the compiled server (dist/server/viewer/), for an
// installed package, which has no src/ to bundle from when `kep serve` starts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { bundleViewer } from '../src/server/viewer-bundle.ts';

const out = new URL('../dist/server/viewer/', import.meta.url);
mkdirSync(out, { recursive: true });
const { js, css } = await bundleViewer();
writeFileSync(new URL('app.js', out), js);
writeFileSync(new URL('app.css', out), css);
