// The single-page app: src/server/client/ (TypeScript, OpenSeadragon from npm) bundled by esbuild in
// memory when the server starts from a source checkout (a fraction of a second), or the bundle
// `npm run build` wrote beside the compiled server (dist/server/viewer/) in an installed package.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ViewerBundle {
  js: string;
  css: string;
}

const SOURCE_ENTRY = fileURLToPath(new URL('./client/main.ts', import.meta.url));
const BUILT = fileURLToPath(new URL('./viewer/', import.meta.url));

export async function bundleViewer(): Promise<ViewerBundle> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [SOURCE_ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    minify: true,
    outdir: 'viewer',
    entryNames: 'app',
    logLevel: 'silent',
  });
  const out = (ext: string): string => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
  return { js: out('.js'), css: out('.css') };
}

export async function loadViewer(): Promise<ViewerBundle> {
  if (existsSync(SOURCE_ENTRY)) return bundleViewer();
  const js = `${BUILT}app.js`;
  if (!existsSync(js)) throw new Error(`the viewer is not built: ${js} is missing (npm run build)`);
  return { js: readFileSync(js, 'utf8'), css: readFileSync(`${BUILT}app.css`, 'utf8') };
}
