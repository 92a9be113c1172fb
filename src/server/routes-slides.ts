// /api/slides…: the run's slides, their Deep Zoom tiles, stored files, patches, class scores, text
// search over the stored patch features, and re-scoring with classes chosen in the knowledge tree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import sharp from 'sharp';
import { z } from 'zod';
import { classCaptions, type PromptSet } from '../data/prompt-sets.ts';
import { promptSetFromClassNames } from '../eval/class-prompts.ts';
import { dziXml } from './deep-zoom.ts';
import { HttpError, MAX_QUERY_CHARS, MAX_TOP, parseWith } from './http.ts';
import type { KnowledgeBrowser } from './knowledge-browser.ts';
import { classScores, queryScores, roundScores, topPatches } from './patch-scores.ts';
import type { SlideEntry } from './run-folder.ts';
import type { SlideStore } from './slide-store.ts';

const MAX_CLASSES = 20;
const THUMB_SIDE = 128;

const idParams = z.object({ id: z.string().max(200) });
const tileParams = idParams.extend({
  level: z.coerce.number().int().min(0).max(40),
  tile: z.string().max(40),
});
const searchQuery = z.object({
  text: z.string().trim().min(1, 'give the text to search for (?text=…)').max(MAX_QUERY_CHARS),
  top: z.coerce.number().int().min(1).max(MAX_TOP).default(8),
});
const indexQuery = z.object({ index: z.coerce.number().int().min(0) });
const rescoreBody = z
  .object({
    diseases: z.array(z.string().min(1).max(200)).max(MAX_CLASSES).optional(),
    classes: z.array(z.string().trim().min(1).max(200)).max(MAX_CLASSES).optional(),
  })
  .refine(
    (b) => (b.diseases?.length ?? 0) + (b.classes?.length ?? 0) >= 2,
    'give at least two diseases or classes',
  );

function slideOf(store: SlideStore, params: unknown): SlideEntry {
  const { id } = parseWith(idParams, params);
  const e = store.entry(id);
  if (!e) throw new HttpError(404, `no slide ${JSON.stringify(id)} in this run`);
  return e;
}

async function slideSize(
  store: SlideStore,
  e: SlideEntry,
): Promise<{ width: number | null; height: number | null }> {
  if (!e.slidePath) return { width: null, height: null };
  try {
    const { slide } = await store.open(e);
    return { width: slide.width, height: slide.height };
  } catch {
    return { width: null, height: null };
  }
}

async function scoresJson(store: SlideStore, e: SlideEntry, set: PromptSet) {
  const f = await store.slideFeatures(e);
  const s = classScores(f, await store.classEmbeddings(set));
  return {
    labels: s.labels,
    scores: s.scores.map(roundScores),
    ks: s.ks,
    pooled: s.pooled.map(roundScores),
    predicted: s.predicted,
    captions: set.classes.map((c) => c.names),
  };
}

function listRoutes(app: FastifyInstance, store: SlideStore): void {
  app.get('/api/slides', async () =>
    Promise.all(
      store.run.slides.map(async (e) => ({
        id: e.id,
        status: e.status,
        ...(await slideSize(store, e)),
        nPatches: e.nPatches,
        label: e.label ?? null,
        prediction: e.prediction ?? null,
        error: e.error,
        problems: e.problems,
        files: e.files,
        thumbnail: e.files.includes('overview.png')
          ? `/api/slides/${encodeURIComponent(e.id)}/files/overview.png`
          : null,
      })),
    ),
  );
  app.get('/api/slides/:id/dzi', async (req, reply) => {
    const e = slideOf(store, req.params);
    const { layout } = await store.open(e);
    return reply.type('application/xml').send(dziXml(layout));
  });
  app.get('/api/slides/:id/files/:name', async (req, reply) => {
    const e = slideOf(store, req.params);
    const { name } = parseWith(z.object({ name: z.string().max(200) }), req.params);
    if (!e.files.includes(name)) throw new HttpError(404, 'not found');
    const type = name.endsWith('.png') ? 'image/png' : 'application/geo+json';
    return reply
      .type(type)
      .header('cache-control', 'no-cache')
      .send(readFileSync(join(e.dir, name)));
  });
}

function tileRoute(app: FastifyInstance, store: SlideStore): void {
  app.get('/api/slides/:id/tiles/:level/:tile', async (req, reply: FastifyReply) => {
    const e = slideOf(store, req.params);
    const { level, tile } = parseWith(tileParams, req.params);
    const m = /^(\d{1,6})_(\d{1,6})\.jpe?g$/.exec(tile);
    if (!m) throw new HttpError(404, 'tiles are named COL_ROW.jpeg');
    const t = await store.tile(e, level, Number(m[1]), Number(m[2]));
    if (!t) throw new HttpError(404, `no tile ${tile} at level ${level}`);
    reply.header('etag', t.etag).header('cache-control', 'private, max-age=3600');
    if (req.headers['if-none-match'] === t.etag) return reply.code(304).send();
    return reply.type('image/jpeg').send(t.jpeg);
  });
}

function patchRoutes(app: FastifyInstance, store: SlideStore): void {
  app.get('/api/slides/:id/patches', async (req) => {
    const f = await store.slideFeatures(slideOf(store, req.params));
    return {
      count: f.count,
      dim: f.dim,
      patchSizeLevel0: f.meta.patchSizeLevel0,
      coords: Array.from(f.coords),
    };
  });
  app.get('/api/slides/:id/patch', async (req) => {
    const e = slideOf(store, req.params);
    const f = await store.slideFeatures(e);
    const { index } = parseWith(indexQuery, req.query);
    if (index >= f.count) throw new HttpError(404, `no patch ${index} (the slide has ${f.count})`);
    const run = store.runClasses();
    const feature = f.unit.subarray(index * f.dim, (index + 1) * f.dim);
    const one = { count: 1, dim: f.dim, unit: feature, coords: f.coords.subarray(2 * index, 2 * index + 2) };
    let classes: { label: string; score: number }[] = [];
    let prompts: { label: string; caption: string; score: number }[] = [];
    if (run) {
      const s = classScores(one, await store.classEmbeddings(run.set));
      classes = s.labels.map((label, k) => ({ label, score: roundScores(s.scores[k]!)[0]! }));
      const captions = run.set.classes.flatMap((c) =>
        classCaptions(run.set, c).map((caption) => ({ label: c.label, caption })),
      );
      const emb = await store.embedTexts(captions.map((c) => c.caption));
      prompts = captions
        .map((c, i) => ({
          ...c,
          score: roundScores(queryScores({ ...one }, emb.subarray(i * f.dim, (i + 1) * f.dim)))[0]!,
        }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 5);
    }
    return {
      index,
      x: one.coords[0],
      y: one.coords[1],
      size: f.meta.patchSizeLevel0,
      classes,
      topPrompts: prompts,
    };
  });
  app.get('/api/slides/:id/patch.jpeg', async (req, reply) => {
    const e = slideOf(store, req.params);
    const f = await store.slideFeatures(e);
    const { index } = parseWith(indexQuery, req.query);
    if (index >= f.count) throw new HttpError(404, `no patch ${index}`);
    const { slide } = await store.open(e);
    const ps = f.meta.patchSizeLevel0;
    const level = slide.bestLevelForDownsample(ps / THUMB_SIDE);
    const side = Math.max(1, Math.ceil(ps / slide.levels[level]!.downsample));
    const rgba = await slide.readRegion(f.coords[2 * index]!, f.coords[2 * index + 1]!, level, side, side);
    const jpeg = await sharp(rgba.data, { raw: { width: side, height: side, channels: 4 } })
      .flatten({ background: '#ffffff' })
      .resize(THUMB_SIDE, THUMB_SIDE)
      .jpeg({ quality: 80 })
      .toBuffer();
    return reply.type('image/jpeg').header('cache-control', 'private, max-age=3600').send(jpeg);
  });
}

function scoreRoutes(app: FastifyInstance, store: SlideStore, knowledge: KnowledgeBrowser | undefined): void {
  app.get('/api/slides/:id/classes', async (req) => {
    const e = slideOf(store, req.params);
    const run = store.runClasses();
    if (!run)
      throw new HttpError(404, 'this run was made without prompts: no classes to show (text search works)');
    return { origin: run.origin, ...(await scoresJson(store, e, run.set)) };
  });
  app.get('/api/slides/:id/search', async (req) => {
    const e = slideOf(store, req.params);
    const { text, top } = parseWith(searchQuery, req.query);
    const t0 = performance.now();
    const f = await store.slideFeatures(e);
    const query = await store.embedTexts([text]);
    const scores = queryScores(f, query);
    return {
      text,
      count: f.count,
      scores: roundScores(scores),
      top: topPatches(f, scores, top).map((t) => ({ ...t, score: roundScores([t.score])[0]! })),
      ms: Math.round(performance.now() - t0),
    };
  });
  app.post('/api/slides/:id/rescore', async (req) => {
    const e = slideOf(store, req.params);
    const body = parseWith(rescoreBody, req.body);
    const names = [...(body.classes ?? [])];
    for (const ref of body.diseases ?? []) {
      if (!knowledge)
        throw new HttpError(400, 'diseases need a knowledge tree: start the server with --tree FILE');
      const r = knowledge.resolve(ref);
      if (typeof r === 'string') throw new HttpError(404, r);
      names.push(r.name);
    }
    if (new Set(names).size !== names.length) throw new HttpError(400, 'a class is named twice');
    const { set, info } = promptSetFromClassNames(names, knowledge?.tree);
    return {
      origin: 'classes chosen in the viewer',
      matches: info.map((i) => ({ label: i.label, match: i.match, names: i.names })),
      ...(await scoresJson(store, e, set)),
    };
  });
}

export function slideRoutes(
  app: FastifyInstance,
  store: SlideStore,
  knowledge: KnowledgeBrowser | undefined,
): void {
  listRoutes(app, store);
  tileRoute(app, store);
  patchRoutes(app, store);
  scoreRoutes(app, store, knowledge);
}
