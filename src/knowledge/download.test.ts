import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ProgressOptions } from '../util/progress.ts';
import { buildTree } from './build.ts';
import { defaultCacheDir, defaultItems, downloadSources, type DownloadItem } from './download.ts';
import { SOURCES } from './sources.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/sources/', import.meta.url));

// A stand-in for the public origins on 127.0.0.1: serves the fixture sources, 404s on /missing/,
// and cuts /truncated/ short of its announced length.
let server: Server;
let base = '';
const requests: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    if (url.startsWith('/missing/')) {
      res.writeHead(404).end('not here');
      return;
    }
    if (url.startsWith('/truncated/')) {
      res.writeHead(200, { 'content-length': '1000' });
      // Hang up after part of the body, as a dropped connection does.
      res.write('only a little', () => res.destroy());
      return;
    }
    const path = join(FIXTURES, decodeURIComponent(url.replace(/^\/files\//, '')));
    if (!existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(path);
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

describe('downloadSources', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const cache = () => {
    const d = mkdtempSync(join(tmpdir(), 'kep-cache-'));
    dirs.push(d);
    return d;
  };
  const quiet = () => undefined;
  // The fixture's OncoTree file has its own name; the cache keeps the release name the build expects.
  const items = (): DownloadItem[] =>
    SOURCES.map((s) => ({
      path: s.path,
      urls: [
        `${base}/missing/${s.path}`,
        `${base}/files/${s.id === 'oncotree' ? 'oncotree/oncotree_fixture.json' : s.path}`,
      ],
    }));

  it('fetches every source, falling back to the next origin, into a cache the build can read', async () => {
    const dir = cache();
    const shown: ProgressOptions[] = [];
    const updates: number[] = [];
    const r = await downloadSources({
      cacheDir: dir,
      items: items(),
      log: quiet,
      progress: (o) => {
        shown.push(o);
        return { update: (v) => updates.push(v), increment() {}, setTotal() {}, stop() {} };
      },
    });
    assert.equal(r.fetched.length, SOURCES.length);
    assert.deepEqual(r.failed, []);
    assert.deepEqual(
      shown.map((o) => o.unit),
      SOURCES.map(() => 'bytes'),
    );
    assert.equal(shown[0]?.total, readFileSync(join(FIXTURES, 'oncotree/oncotree_fixture.json')).length);
    assert.ok(updates.length >= SOURCES.length);
    assert.deepEqual(
      readFileSync(join(dir, 'doid/current/HumanDO.tsv')),
      readFileSync(join(FIXTURES, 'doid/current/HumanDO.tsv')),
    );
    assert.equal(buildTree(dir).build.counts.diseases, buildTree(FIXTURES).build.counts.diseases);
  });

  it('keeps cached files unless asked to refresh', async () => {
    const dir = cache();
    await downloadSources({
      cacheDir: dir,
      items: items(),
      log: quiet,
      progress: () => ({ update() {}, increment() {}, setTotal() {}, stop() {} }),
    });
    writeFileSync(join(dir, 'doid/current/NCIinDO.tsv'), 'edited');
    const before = requests.length;
    const r = await downloadSources({ cacheDir: dir, items: items(), log: quiet });
    assert.equal(r.cached.length, SOURCES.length);
    assert.equal(requests.length, before);
    await downloadSources({ cacheDir: dir, items: items(), log: quiet, refresh: true });
    assert.notEqual(readFileSync(join(dir, 'doid/current/NCIinDO.tsv'), 'utf8'), 'edited');
  });

  it('fails on a required file that no origin serves, leaving no partial file', async () => {
    const dir = cache();
    await assert.rejects(
      downloadSources({
        cacheDir: dir,
        items: [{ path: 'a/b.obo', urls: [`${base}/missing/x`, `${base}/truncated/x`] }],
        log: quiet,
      }),
      /could not fetch a\/b\.obo: .*HTTP 404.*(terminated|received 13 of 1000 bytes)/,
    );
    assert.equal(existsSync(join(dir, 'a/b.obo')), false);
    assert.deepEqual(existsSync(join(dir, 'a')) ? readdirSync(join(dir, 'a')) : [], []);
  });

  it('only warns about an optional file', async () => {
    const lines: string[] = [];
    const r = await downloadSources({
      cacheDir: cache(),
      items: [{ path: 'LICENSE', urls: [`${base}/missing/L`], optional: true }],
      log: (l) => lines.push(l),
    });
    assert.deepEqual(r.failed, ['LICENSE']);
    assert.match(lines[0] ?? '', /^warning: could not fetch LICENSE/);
  });

  it('knows the public origins and a default cache', () => {
    const all = defaultItems();
    assert.ok(all.every((i) => i.urls.every((u) => /^https?:\/\//.test(u))));
    assert.ok(
      all.some((i) => i.urls[0]?.includes('raw.githubusercontent.com/DiseaseOntology/HumanDiseaseOntology')),
    );
    assert.ok(all.some((i) => i.urls.some((u) => u.includes('oncotree'))));
    assert.equal(defaultCacheDir({ KEP_CACHE: '/x' }), join('/x', 'knowledge'));
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/y' }), join('/y', 'kep', 'knowledge'));
  });
});
