// `kep serve`: the HTTP server (Fastify) over one run folder. Only what the run folder's summary and
// slide folders name is reachable (slides by id, stored files from a fixed list, training runs found
// under the folder), plus the model and the knowledge tree given on the command line.
import Fastify, { type FastifyInstance } from 'fastify';
import { basename } from 'node:path';
import { HttpError } from './http.ts';
import type { KnowledgeBrowser } from './knowledge-browser.ts';
import { appPage } from './page.ts';
import { knowledgeRoutes, trainingRunRoutes } from './routes-knowledge.ts';
import { slideRoutes } from './routes-slides.ts';
import { installGuards, MAX_BODY_BYTES } from './security.ts';
import type { SlideStore } from './slide-store.ts';
import type { ViewerBundle } from './viewer-bundle.ts';

export interface AppOptions {
  store: SlideStore;
  knowledge?: KnowledgeBrowser;
  viewer: ViewerBundle;
  /** Required on every request when set. */
  token?: string;
  /** Model description for the page (what text search embeds with). */
  model?: string;
}

function runInfo(o: AppOptions) {
  const run = o.store.run;
  const classes = o.store.runClasses();
  return {
    name: basename(run.root),
    problems: run.problems,
    model: o.model ?? null,
    untrained: run.summary?.untrained ?? null,
    modelSource: run.summary?.model_source ?? null,
    slides: run.slides.length,
    trainingRuns: run.trainingRuns.map((r) => r.id),
    classes: classes ? { labels: classes.set.classes.map((c) => c.label), origin: classes.origin } : null,
    knowledge: o.knowledge ? { ranker: o.knowledge.ranker } : null,
  };
}

export function buildApp(o: AppOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: MAX_BODY_BYTES, routerOptions: { maxParamLength: 256 }, logger: false });
  installGuards(app, o.token);
  app.setErrorHandler((err, _req, reply) => {
    const e = err as Error & { statusCode?: number };
    const status = err instanceof HttpError ? err.status : (e.statusCode ?? 500);
    return reply.code(status).send({ error: status >= 500 ? `server error: ${e.message}` : e.message });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }));
  const page = appPage(`kep · ${basename(o.store.run.root)}`, o.store.run.problems);
  app.get('/', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page),
  );
  app.get('/app.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(o.viewer.js));
  app.get('/app.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(o.viewer.css));
  app.get('/api/run', async () => runInfo(o));
  slideRoutes(app, o.store, o.knowledge);
  knowledgeRoutes(app, o.knowledge);
  trainingRunRoutes(app, o.store.run);
  app.addHook('onClose', async () => {
    await o.store.close();
    await o.knowledge?.close();
  });
  return app;
}
