// `kep serve` over HTTP: the server on a random loopback port over a run folder made here by
// `kep wsi run` on the shared slides (kep-tiny, untrained), a knowledge tree from the fixture
// sources and a training run; then the security rules, a token-guarded server and a broken folder.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readFeaturesH5 } from '../wsi/features-h5.ts';
import { type RunningServer, startServer } from './serve.ts';
import { makeRun, makeTrainingRun, makeTree } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-serve-'));
let run: string;
let server: RunningServer;
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

before(async () => {
  run = makeRun(dir);
  makeTrainingRun(run, 's1');
  server = await startServer({ runDir: run, port: 0, tree: makeTree(dir) });
});

/** A raw request: the path goes on the wire as written (fetch would resolve '..' first). */
function raw(
  base: string,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const u = new URL(base);
  return new Promise((done, fail) => {
    const req = request(
      { host: u.hostname, port: u.port, path, method: o.method ?? 'GET', headers: o.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          done({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', fail);
    req.end(o.body);
  });
}

async function json<T>(path: string): Promise<T> {
  const r = await raw(server.url, path);
  assert.equal(r.status, 200, `${path}: ${r.body.toString()}`);
  return JSON.parse(r.body.toString()) as T;
}

interface SlideJson {
  id: string;
  status: string;
  width: number;
  height: number;
  nPatches: number;
  prediction: string;
}

test('slides, DZI, tiles (ETag, 304) and the app page', async () => {
  const slides = await json<SlideJson[]>('/api/slides');
  assert.deepEqual(
    slides.map((s) => s.id),
    ['cmu_small_region', 'tcga-cr-7395-01a-01-ts1'],
  );
  for (const s of slides) {
    assert.equal(s.status, 'done');
    assert.ok(s.width > 1000 && s.height > 1000 && s.nPatches > 10);
    assert.ok(['tumour', 'stroma'].includes(s.prediction));
  }
  const dzi = (await raw(server.url, '/api/slides/cmu_small_region/dzi')).body.toString();
  assert.match(
    dzi,
    /<Image [^>]*Format="jpeg" Overlap="1" TileSize="254"><Size Height="2967" Width="2220"\/>/,
  );
  // 2220 × 2967: 13 Deep Zoom levels; level 12 is full size, 9 × 12 tiles.
  const tile = await raw(server.url, '/api/slides/cmu_small_region/tiles/12/3_4.jpeg');
  assert.equal(tile.status, 200);
  assert.equal(tile.headers['content-type'], 'image/jpeg');
  assert.deepEqual([...tile.body.subarray(0, 3)], [0xff, 0xd8, 0xff]);
  const etag = tile.headers.etag as string;
  const again = await raw(server.url, '/api/slides/cmu_small_region/tiles/12/3_4.jpeg', {
    headers: { 'if-none-match': etag },
  });
  assert.equal(again.status, 304);
  assert.equal((await raw(server.url, '/api/slides/cmu_small_region/tiles/12/9_0.jpeg')).status, 404);
  assert.equal((await raw(server.url, '/api/slides/cmu_small_region/tiles/0/0_0.jpeg')).status, 200);
  assert.equal((await raw(server.url, '/api/slides/nope/dzi')).status, 404);
  const page = await raw(server.url, '/');
  assert.match(page.body.toString(), /<script type="module" src="\/app.js">/);
  const js = await raw(server.url, '/app.js');
  assert.ok(js.body.length > 100_000, 'the bundle holds OpenSeadragon');
});

test('text search scores every stored patch; top is the best of them, in order', async () => {
  const r = await json<{ scores: number[]; top: { index: number; x: number; y: number; score: number }[] }>(
    '/api/slides/cmu_small_region/search?text=tumour%20necrosis&top=5',
  );
  const f = await readFeaturesH5(join(run, 'cmu_small_region', 'features.h5'));
  assert.equal(r.scores.length, f.count);
  assert.equal(r.top.length, 5);
  const sorted = [...r.scores].sort((a, b) => b - a);
  assert.deepEqual(
    r.top.map((t) => t.score),
    sorted.slice(0, 5),
  );
  for (const t of r.top) {
    assert.equal(r.scores[t.index], t.score);
    assert.deepEqual([t.x, t.y], [f.coords[2 * t.index], f.coords[2 * t.index + 1]]);
  }
  for (const s of r.scores) assert.ok(s >= -1 && s <= 1);
  const empty = await raw(server.url, '/api/slides/cmu_small_region/search?text=');
  assert.equal(empty.status, 400);
  const long = await raw(server.url, `/api/slides/cmu_small_region/search?text=${'a'.repeat(600)}`);
  assert.equal(long.status, 400);
  assert.match(long.body.toString(), /500/);
});

test("the run's classes, a patch's scores and prompts, and its thumbnail", async () => {
  const c = await json<{ labels: string[]; scores: number[][]; predicted: string; origin: string }>(
    '/api/slides/cmu_small_region/classes',
  );
  assert.deepEqual(c.labels, ['tumour', 'stroma']);
  assert.match(c.origin, /the run's prompts/);
  const slides = await json<SlideJson[]>('/api/slides');
  assert.equal(c.predicted, slides[0]!.prediction, 'the same prediction as the run');
  const p = await json<{ classes: { label: string; score: number }[]; topPrompts: { caption: string }[] }>(
    '/api/slides/cmu_small_region/patch?index=2',
  );
  assert.deepEqual(
    p.classes.map((x) => x.score),
    [c.scores[0]![2], c.scores[1]![2]],
  );
  assert.ok(p.topPrompts.some((t) => t.caption === 'an H&E image of tumour tissue'));
  const thumb = await raw(server.url, '/api/slides/cmu_small_region/patch.jpeg?index=2');
  assert.equal(thumb.headers['content-type'], 'image/jpeg');
  assert.equal((await raw(server.url, '/api/slides/cmu_small_region/patch?index=100000')).status, 404);
});

test('knowledge: tissues, search with provenance, and diseases as classes re-score a slide', async () => {
  const k = await json<{ ranker: string; tissues: { id: string }[] }>('/api/knowledge');
  assert.equal(k.ranker, 'lexical');
  assert.ok(k.tissues.some((t) => t.id === 'LUNG'));
  const s = await json<{ hits: { id: string; name: string }[] }>('/api/knowledge/search?q=adenocarcinoma');
  assert.ok(s.hits.length >= 2, JSON.stringify(s));
  const d = await json<{ attributes: { provenance: unknown[] }[] }>(
    `/api/knowledge/disease?id=${encodeURIComponent(s.hits[0]!.id)}`,
  );
  assert.ok(d.attributes.every((a) => a.provenance.length > 0));
  const ids = s.hits.slice(0, 2).map((h) => h.id);
  const r = await raw(server.url, '/api/slides/cmu_small_region/rescore', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ diseases: ids }),
  });
  assert.equal(r.status, 200, r.body.toString());
  const body = JSON.parse(r.body.toString()) as { labels: string[]; scores: number[][]; predicted: string };
  assert.deepEqual(
    body.labels,
    s.hits.slice(0, 2).map((h) => h.name),
  );
  assert.equal(body.scores[0]!.length, 50);
  assert.ok(body.labels.includes(body.predicted));
  const one = await raw(server.url, '/api/slides/cmu_small_region/rescore', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ diseases: [ids[0]] }),
  });
  assert.equal(one.status, 400);
});

test('training runs: metric curves', async () => {
  const runs = await json<{ id: string }[]>('/api/runs');
  assert.deepEqual(runs, [{ id: 's1' }]);
  const m = await json<{ series: { name: string; points: number[][] }[]; summary: unknown }>(
    '/api/runs/metrics?id=s1',
  );
  assert.deepEqual(m.series.find((s) => s.name === 'loss')!.points, [
    [1, 2],
    [2, 1],
    [3, 2 / 3],
    [4, 0.5],
  ]);
  assert.ok(m.series.some((s) => s.name === 'eval.mAP'));
  assert.deepEqual(m.summary, { lastStep: 4, stoppedBy: 'steps' });
});

test("a folder holding the whole-slide run and training runs (the demo's out folder) serves both", async () => {
  const s = await startServer({ runDir: dir, port: 0 });
  try {
    const info = JSON.parse((await raw(s.url, '/api/run')).body.toString()) as {
      problems: string[];
      slides: number;
      trainingRuns: string[];
    };
    assert.deepEqual(info.problems, []);
    assert.equal(info.slides, 2);
    assert.deepEqual(info.trainingRuns, ['run/s1']);
  } finally {
    await s.close();
  }
});

test('security: ".." in any encoding is a 404; sizes are bounded; only listed files are served', async () => {
  for (const path of [
    '/api/slides/../summary.json',
    '/api/slides/cmu_small_region/files/../../summary.json',
    '/api/slides/%2e%2e/dzi',
    '/api/slides/cmu_small_region/files/%2E%2E%2Fdone.json',
    '/api/slides/cmu_small_region/files/%252e%252e%252fdone.json',
    '/api/runs/metrics?id=..%2F..%2Fetc',
    '/../../etc/passwd',
    '/api/slides/cmu_small_region/files/..%5cdone.json',
  ])
    assert.equal((await raw(server.url, path)).status, 404, path);
  assert.equal((await raw(server.url, '/api/slides/cmu_small_region/files/done.json')).status, 404);
  assert.equal((await raw(server.url, '/api/slides/cmu_small_region/files/features.h5')).status, 404);
  assert.equal((await raw(server.url, '/api/slides/cmu_small_region/files/overview.png')).status, 200);
  assert.equal((await raw(server.url, `/api/knowledge/search?q=${'x'.repeat(5000)}`)).status, 414);
  const big = await raw(server.url, '/api/slides/cmu_small_region/rescore', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ classes: ['a'.repeat(100_000), 'b'] }),
  });
  assert.equal(big.status, 413);
});

test('a token guards every request; off loopback one is generated', async () => {
  const token = 'test-token-0123456789';
  const guarded = await startServer({ runDir: run, port: 0, token });
  try {
    assert.equal((await raw(guarded.url, '/api/slides')).status, 401);
    assert.equal((await raw(guarded.url, '/')).status, 401);
    assert.equal(
      (await raw(guarded.url, '/api/slides', { headers: { authorization: 'Bearer wrong-token-0123456789' } }))
        .status,
      401,
    );
    assert.equal(
      (await raw(guarded.url, '/api/slides', { headers: { authorization: `Bearer ${token}` } })).status,
      200,
    );
    const page = await raw(guarded.url, `/?token=${token}`);
    assert.equal(page.status, 200);
    const cookie = String(page.headers['set-cookie']).split(';')[0]!;
    assert.equal((await raw(guarded.url, '/api/slides', { headers: { cookie } })).status, 200);
  } finally {
    await guarded.close();
  }
  const open = await startServer({ runDir: run, port: 0, host: '0.0.0.0' });
  try {
    assert.match(open.token ?? '', /^[\w-]{20,}$/);
    assert.equal((await raw(open.url.replace('0.0.0.0', '127.0.0.1'), '/api/run')).status, 401);
  } finally {
    await open.close();
  }
});

test('a malformed run folder gives a page that says what is wrong', async () => {
  const bad = join(dir, 'bad');
  mkdirSync(join(bad, 'x'), { recursive: true });
  writeFileSync(join(bad, 'summary.json'), '{"model": "kep-tiny", "slides": "no"}');
  const s = await startServer({ runDir: bad, port: 0 });
  try {
    const page = (await raw(s.url, '/')).body.toString();
    assert.match(page, /not a complete kep run/);
    assert.match(page, /summary\.json: untrained: /);
    assert.match(page, /summary\.json: slides: /);
    const info = JSON.parse((await raw(s.url, '/api/run')).body.toString()) as { problems: string[] };
    assert.ok(info.problems.length >= 2);
    assert.equal((await raw(s.url, '/api/slides')).body.toString(), '[]');
  } finally {
    await s.close();
  }
  const none = await startServer({ runDir: join(dir, 'missing'), port: 0 });
  try {
    assert.match((await raw(none.url, '/')).body.toString(), /no such folder/);
  } finally {
    await none.close();
  }
});
