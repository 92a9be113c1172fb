// Join: OncoTree's tumour types joined to DO terms (join.ts), each tumour type a draft disease under
// its OncoTree tissue with OncoTree's own codes and name.
import { AttributeSet } from './attributes.ts';
import type { DoTerm } from './do-terms.ts';
import { joinOncotreeToDo, type JoinEvidence } from './join.ts';
import type { DraftDisease } from './ncit-build.ts';
import { cleanText } from './normalise.ts';
import type { OncotreeNode, readOncotree } from './oncotree.ts';
import type { Codes, Provenance } from './schema.ts';
import { sourceSpec } from './sources.ts';

export interface BuildFigures {
  [key: string]: number;
}

export const emptyCodes = (): Codes => ({ oncotree: [], doid: [], ncit: [], umls: [], icdo: [] });

/** The diseases of the tree being built, and which DO term each DO-joined one stands for. */
export interface Drafts {
  drafts: Map<string, DraftDisease>;
  /** DOID → disease id in the tree. */
  diseaseOfDo: Map<string, string>;
}

export interface OncotreeJoin extends Drafts {
  /** OncoTree tissue codes (the tree's tissues). */
  tissueCodes: Set<string>;
  /** DOIDs joined to an OncoTree type. */
  nodeOfDo: Map<string, string>;
  /** DOID → tissue code and OncoTree code of its joined type (place.ts places relatives by them). */
  joinedTissue: Map<string, { tissue: string; code: string }>;
}

export function joinOncotree(
  oncotree: ReturnType<typeof readOncotree>,
  terms: ReadonlyMap<string, DoTerm>,
  figures: BuildFigures,
): OncotreeJoin {
  const tissueByName = new Map(oncotree.tissues.map((t) => [t.tissue, t.code]));
  const tissueCodes = new Set(oncotree.tissues.map((t) => t.code));
  const nodeTissue = (n: OncotreeNode) => tissueByName.get(n.tissue) as string;

  const pairs = joinOncotreeToDo(oncotree.tumourTypes, terms);
  const doOfNode = new Map(pairs.map((p) => [p.oncotree, p]));
  const nodeOfDo = new Map(pairs.map((p) => [p.doid, p.oncotree]));
  for (const e of ['ncit', 'umls', 'name'] as JoinEvidence[])
    figures[`joinedBy_${e}`] = pairs.filter((p) => p.evidence[0] === e).length;
  figures['oncotreeJoined'] = pairs.length;
  figures['oncotreeUnjoined'] = oncotree.tumourTypes.length - pairs.length;

  const nodesByCode = new Map(oncotree.tumourTypes.map((n) => [n.code, n]));
  const joinedTissue = new Map(
    pairs.map((p) => [
      p.doid,
      { tissue: nodeTissue(nodesByCode.get(p.oncotree) as OncotreeNode), code: p.oncotree },
    ]),
  );

  const diseaseOfDo = new Map<string, string>();
  const drafts = new Map<string, DraftDisease>();
  const oncoProv = (ref: string): Provenance => ({
    source: 'oncotree',
    ref,
    licence: sourceSpec('oncotree').licence,
  });
  for (const n of oncotree.tumourTypes) {
    const id = `ONCOTREE:${n.code}`;
    const pair = doOfNode.get(n.code);
    const codes = emptyCodes();
    codes.oncotree.push(n.code);
    codes.ncit.push(...n.ncit);
    codes.umls.push(...n.umls);
    const attrs = new AttributeSet();
    attrs.add('name', n.name, oncoProv(`${n.code} name`));
    const d: DraftDisease = {
      id,
      name: cleanText(n.name),
      tissue: nodeTissue(n),
      placedBy: 'oncotree',
      oncotreeParent: n.level >= 3 ? `ONCOTREE:${n.parent}` : null,
      doid: pair?.doid ?? null,
      codes,
      attrs,
    };
    drafts.set(id, d);
    if (pair) diseaseOfDo.set(pair.doid, id);
  }
  return { drafts, diseaseOfDo, tissueCodes, nodeOfDo, joinedTissue };
}
