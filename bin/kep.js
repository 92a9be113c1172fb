#!/usr/bin/env node
// In a source checkout run the TypeScript directly (always current, no build step);
// an installed package has only dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import(source.href);
  await main(process.argv);
} else {
  const { main } = await import(new URL('../dist/cli/main.js', import.meta.url).href);
  await main(process.argv);
}
