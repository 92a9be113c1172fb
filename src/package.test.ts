// The package as a user gets it: `npm pack`, installed into an empty folder (with
// onnxruntime-node-install=skip, as the README says), imported by name, and the README's TypeScript
// example run against the installed copy. Dependencies come from the npm cache when it has them
// (--prefer-offline); nothing of the repository's node_modules is linked in.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';

const ROOT = new URL('..', import.meta.url).pathname;
const PUBLIC = [
  'createModel',
  'loadModel',
  'embedImages',
  'embedTexts',
  'zeroShotClassify',
  'buildKnowledgeTree',
  'runSlides',
];

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- library-example -->\s*```ts\n([\s\S]*?)```\s*<!-- \/library-example -->/.exec(readme);
  assert.ok(m, 'README.md has the library example between its markers');
  return m[1]!;
}

test(
  'npm pack installs into an empty folder; the public API imports by name and the README example runs',
  { timeout: 600_000 },
  () => {
    const example = readmeExample();
    assert.ok(example.trim().split('\n').length <= 10, 'the README example is at most 10 lines');
    const dir = mkdtempSync(join(tmpdir(), 'kep-pack-'));
    try {
      run('npm', ['pack', '--silent', '--pack-destination', dir], ROOT); // prepack builds dist
      const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
      const tarList = run('tar', ['-tzf', join(dir, tarball)], dir);
      assert.doesNotMatch(
        tarList,
        /\.test\.|testing\.(js|d\.ts)|baseline-figures/,
        'dist holds no tests, test helpers or scripts',
      );
      const app = join(dir, 'app');
      run('mkdir', ['-p', app], dir);
      writeFileSync(join(app, 'package.json'), '{"name":"app","private":true,"type":"module"}\n');
      writeFileSync(join(app, '.npmrc'), 'onnxruntime-node-install=skip\n');
      run(
        'npm',
        ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', join(dir, tarball)],
        app,
      );
      const names = run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import * as kep from 'kep'; console.log(JSON.stringify(${JSON.stringify(PUBLIC)}.filter((n) => typeof kep[n] === 'function')))`,
        ],
        app,
      );
      assert.deepEqual(JSON.parse(names), PUBLIC);
      writeFileSync(join(app, 'classify.ts'), example);
      copyFileSync(join(ROOT, 'src/data/fixtures/rgb-97x61.png'), join(app, 'a.png'));
      const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
      const out = run(process.execPath, ['--import', tsx, 'classify.ts', 'a.png'], app);
      assert.match(out, /^2 text embeddings of 16$/m);
      assert.match(out, /^a\.png (tumour|normal) \[/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
