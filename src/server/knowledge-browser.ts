// The knowledge tree as the viewer browses it: tissues, their diseases, a disease's attributes with
// provenance, and search — the hybrid linker of `kep knowledge link` (encoder cosine fused with BM25)
// when a knowledge encoder folder is given, else the tree's own lexical search (`kep knowledge search`).
import type { Encode } from '../eval/galleries.ts';
import { type LinkCandidate, linkText } from '../eval/link.ts';
import { samples } from '../knowledge/export.ts';
import { findDisease, searchTree } from '../knowledge/query.ts';
import type { Disease, KnowledgeTree } from '../knowledge/schema.ts';
import type { KnowledgeEncoder } from '../train/knowledge.ts';

export interface KnowledgeHit {
  id: string;
  name: string;
  tissue: string;
  score: number;
  /** The text that matched best. */
  via: string;
}

/** Caches embeddings by text: the candidate gallery is embedded once, not on every query. */
function cachingEncode(encoder: Pick<KnowledgeEncoder, 'embed'>): Encode {
  const cache = new Map<string, Float32Array>();
  return async (texts) => {
    const missing = [...new Set(texts.filter((t) => !cache.has(t)))];
    if (missing.length > 0) {
      const out = await encoder.embed(missing);
      const dim = out.length / missing.length;
      missing.forEach((t, i) => cache.set(t, out.slice(i * dim, (i + 1) * dim)));
    }
    const dim = cache.get(texts[0]!)?.length ?? 0;
    const all = new Float32Array(texts.length * dim);
    texts.forEach((t, i) => all.set(cache.get(t)!, i * dim));
    return all;
  };
}

export class KnowledgeBrowser {
  private readonly candidates: LinkCandidate[];
  private readonly byId = new Map<string, { disease: Disease; tissue: string }>();
  private readonly encode: Encode | undefined;

  constructor(
    readonly tree: KnowledgeTree,
    private readonly encoder?: Pick<KnowledgeEncoder, 'embed' | 'hybrid' | 'release'>,
  ) {
    this.candidates = [...samples(tree, ['name', 'synonym'])].map((s) => ({ text: s.text, label: s.label }));
    for (const t of tree.tissues)
      for (const d of t.diseases) this.byId.set(d.id, { disease: d, tissue: t.id });
    this.encode = encoder ? cachingEncode(encoder) : undefined;
  }

  /** The hybrid with the encoder's fitted weight (or the default weight when it has none). */
  get ranker(): 'hybrid' | 'lexical' {
    return this.encoder ? 'hybrid' : 'lexical';
  }

  tissues(): { id: string; name: string; diseases: number }[] {
    return this.tree.tissues.map((t) => ({ id: t.id, name: t.name, diseases: t.diseases.length }));
  }

  tissue(
    id: string,
  ):
    | { id: string; name: string; diseases: { id: string; name: string; parent: string | null }[] }
    | undefined {
    const t = this.tree.tissues.find((x) => x.id === id);
    if (!t) return undefined;
    return {
      id: t.id,
      name: t.name,
      diseases: t.diseases.map((d) => ({ id: d.id, name: d.name, parent: d.parent })),
    };
  }

  disease(id: string): (Disease & { tissue: string }) | undefined {
    const f = this.byId.get(id);
    return f ? { ...f.disease, tissue: f.tissue } : undefined;
  }

  /** A disease by id, code, name or synonym (the CLI's lookup), or why not. */
  resolve(ref: string): { id: string; name: string } | string {
    const f = findDisease(this.tree, ref);
    return typeof f === 'string' ? f : { id: f.disease.id, name: f.disease.name };
  }

  async search(q: string, top: number): Promise<KnowledgeHit[]> {
    if (!this.encode) {
      return searchTree(this.tree, q, top).map((h) => ({
        id: h.id,
        name: h.name,
        tissue: h.tissue,
        score: h.score,
        via: h.matched,
      }));
    }
    const hits = await linkText(q, this.candidates, {
      ranker: this.ranker,
      top,
      encode: this.encode,
      alpha: this.encoder!.hybrid.alpha,
    });
    return hits.map((h) => {
      const f = this.byId.get(h.label);
      return {
        id: h.label,
        name: f?.disease.name ?? h.label,
        tissue: f?.tissue ?? '',
        score: h.score,
        via: h.via,
      };
    });
  }

  async close(): Promise<void> {
    await this.encoder?.release();
  }
}
