// Finding a disease in a tree by what a user types: its id, one of its codes (DOID:3910,
// ONCOTREE:LUAD, NCIT:C3512, UMLS:C0152013) or a name or synonym, compared case-, punctuation- and
// "NOS"-insensitively.
import { nameKey } from './normalise.ts';
import type { Disease, KnowledgeTree } from './schema.ts';

const FILLER_WORDS = new Set(['the', 'of', 'a', 'an']);

export function wordsKey(text: string): string {
  return [...new Set(nameKey(text).split(' '))]
    .filter((w) => w !== '' && !FILLER_WORDS.has(w))
    .sort()
    .join(' ');
}

export class DiseaseIndex {
  private readonly byId = new Map<string, Disease>();
  private readonly byCode = new Map<string, Disease[]>();
  private readonly byName = new Map<string, Disease[]>();
  private readonly byWords = new Map<string, Disease[]>();

  private readonly tissueOf = new Map<Disease, string>();

  constructor(tree: KnowledgeTree) {
    for (const t of tree.tissues) for (const d of t.diseases) this.add(d, t.id);
  }

  tissue(d: Disease): string | undefined {
    return this.tissueOf.get(d);
  }

  add(d: Disease, tissue: string): void {
    this.byId.set(d.id, d);
    this.tissueOf.set(d, tissue);
    const push = (m: Map<string, Disease[]>, k: string) => {
      const l = m.get(k) ?? [];
      if (!l.includes(d)) l.push(d);
      m.set(k, l);
    };
    for (const c of d.codes.doid) push(this.byCode, c.toUpperCase());
    for (const c of d.codes.oncotree) {
      push(this.byCode, `ONCOTREE:${c}`.toUpperCase());
      // OncoTree codes are what oncologists type ("LUAD"), so they work without the prefix too.
      push(this.byCode, c.toUpperCase());
    }
    for (const c of d.codes.ncit) push(this.byCode, `NCIT:${c}`.toUpperCase());
    for (const c of d.codes.umls) push(this.byCode, `UMLS:${c}`.toUpperCase());
    for (const a of d.attributes) {
      if (a.kind !== 'name' && a.kind !== 'synonym') continue;
      push(this.byName, nameKey(a.text));
      push(this.byWords, wordsKey(a.text));
    }
  }

  /**
   * Looser than resolve(): the same words in any order, without articles and "of"
   * ("adenocarcinoma of the lung" = "lung adenocarcinoma"). For prompt class names, which are
   * phrased freely; not for imports, where a wrong match would put text under the wrong disease.
   */
  resolveWords(ref: string): Disease | Disease[] | undefined {
    const found = this.byWords.get(wordsKey(ref));
    if (!found) return undefined;
    return found.length === 1 ? found[0] : found;
  }

  /** The disease a reference names; undefined when none; the candidates when several. */
  resolve(ref: string): Disease | Disease[] | undefined {
    const exact = this.byId.get(ref);
    if (exact) return exact;
    const code = ref
      .trim()
      .toUpperCase()
      .replace(/^(NCI|NCIT):/, 'NCIT:')
      .replace(/^UMLS_CUI:/, 'UMLS:');
    const byCode = this.byCode.get(code);
    if (byCode) return byCode.length === 1 ? byCode[0] : byCode;
    const byName = this.byName.get(nameKey(ref));
    if (byName) return byName.length === 1 ? byName[0] : byName;
    return undefined;
  }
}
