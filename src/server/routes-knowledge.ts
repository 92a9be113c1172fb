// /api/knowledge… (the tree: tissues, diseases with attributes and provenance, search) and
// /api/runs… (training runs' metric curves).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { KnowledgeBrowser } from './knowledge-browser.ts';
import type { RunFolder } from './run-folder.ts';
import { HttpError, MAX_QUERY_CHARS, MAX_TOP, parseWith } from './http.ts';
import { readRunMetrics } from './training-runs.ts';

const searchQuery = z.object({
  q: z.string().trim().min(1, 'give the text to search for (?q=…)').max(MAX_QUERY_CHARS),
  top: z.coerce.number().int().min(1).max(MAX_TOP).default(10),
});
const idQuery = z.object({ id: z.string().min(1).max(200) });

export function knowledgeRoutes(app: FastifyInstance, knowledge: KnowledgeBrowser | undefined): void {
  const tree = (): KnowledgeBrowser => {
    if (!knowledge) throw new HttpError(404, 'no knowledge tree: start the server with --tree FILE');
    return knowledge;
  };
  app.get('/api/knowledge', async () => ({ ranker: tree().ranker, tissues: tree().tissues() }));
  app.get('/api/knowledge/tissue', async (req) => {
    const { id } = parseWith(idQuery, req.query);
    const t = tree().tissue(id);
    if (!t) throw new HttpError(404, `no tissue ${JSON.stringify(id)}`);
    return t;
  });
  app.get('/api/knowledge/disease', async (req) => {
    const { id } = parseWith(idQuery, req.query);
    const d = tree().disease(id);
    if (!d) throw new HttpError(404, `no disease ${JSON.stringify(id)}`);
    return d;
  });
  app.get('/api/knowledge/search', async (req) => {
    const { q, top } = parseWith(searchQuery, req.query);
    const k = tree();
    return { q, ranker: k.ranker, hits: await k.search(q, top) };
  });
}

export function trainingRunRoutes(app: FastifyInstance, run: RunFolder): void {
  app.get('/api/runs', async () => run.trainingRuns.map((r) => ({ id: r.id })));
  app.get('/api/runs/metrics', async (req) => {
    const { id } = parseWith(idQuery, req.query);
    const r = run.trainingRuns.find((x) => x.id === id);
    if (!r) throw new HttpError(404, `no training run ${JSON.stringify(id)}`);
    return { id, ...readRunMetrics(r.dir) };
  });
}
