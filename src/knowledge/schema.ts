// The knowledge-tree file: tissues → diseases → attributes, with the provenance of every text and
// the sources it was built from. Every load goes through this schema, including trees that users
// write themselves, so that later stages (samplers, prompt builders) can trust the structure.
import { z } from 'zod';

export const TREE_FORMAT = 'kep.knowledge-tree';
export const TREE_VERSION = 1;

export const ATTRIBUTE_KINDS = ['name', 'synonym', 'definition', 'histology', 'cytology'] as const;
export type AttributeKind = (typeof ATTRIBUTE_KINDS)[number];

export const provenanceSchema = z.strictObject({
  /** Source id from the build's source list (e.g. "do-ncit-subset"), or "user:<file>" for imports. */
  source: z.string().min(1),
  /** Where in the source: a term id and field, e.g. "DOID:3910 synonym EXACT". */
  ref: z.string(),
  licence: z.string().min(1),
});
export type Provenance = z.infer<typeof provenanceSchema>;

export const attributeSchema = z.strictObject({
  kind: z.enum(ATTRIBUTE_KINDS),
  text: z.string().min(1),
  provenance: z.array(provenanceSchema).min(1),
});
export type Attribute = z.infer<typeof attributeSchema>;

export const codesSchema = z.strictObject({
  oncotree: z.array(z.string()),
  doid: z.array(z.string()),
  ncit: z.array(z.string()),
  umls: z.array(z.string()),
  icdo: z.array(z.string()),
});
export type Codes = z.infer<typeof codesSchema>;

export const diseaseSchema = z.strictObject({
  /** Stable id: "ONCOTREE:<code>" for OncoTree tumour types, "DOID:<n>" for DO terms, a user's own otherwise. */
  id: z.string().regex(/^[A-Za-z][\w.-]*:\S+$/, 'an id of the form PREFIX:ID'),
  name: z.string().min(1),
  /** Parent disease in the same tissue, or null when the disease hangs from the tissue itself. */
  parent: z.string().nullable(),
  children: z.array(z.string()),
  /** How the disease came to be under its tissue, for review. */
  placedBy: z.string().min(1),
  codes: codesSchema,
  attributes: z.array(attributeSchema).min(1),
});
export type Disease = z.infer<typeof diseaseSchema>;

export const tissueSchema = z.strictObject({
  /** OncoTree level-1 code, e.g. "LUNG". */
  id: z.string().min(1),
  name: z.string().min(1),
  codes: z.strictObject({ ncit: z.array(z.string()), umls: z.array(z.string()) }),
  diseases: z.array(diseaseSchema),
});
export type Tissue = z.infer<typeof tissueSchema>;

export const kindCountsSchema = z.strictObject({
  name: z.number().int().min(0),
  synonym: z.number().int().min(0),
  definition: z.number().int().min(0),
  histology: z.number().int().min(0),
  cytology: z.number().int().min(0),
});
export type KindCounts = z.infer<typeof kindCountsSchema>;

export const sourceRecordSchema = z.strictObject({
  id: z.string().min(1),
  title: z.string(),
  /** Path relative to the sources directory (or the import file's name). */
  file: z.string(),
  /** The release the file declares (OBO data-version, OncoTree file name); "" when it declares none. */
  version: z.string(),
  licence: z.string().min(1),
  /** Who to credit when sharing the source's texts (trees built before it was recorded lack it). */
  attribution: z.string().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().min(0),
});
export type SourceRecord = z.infer<typeof sourceRecordSchema>;

export const countsSchema = z.strictObject({
  tissues: z.number().int().min(0),
  diseases: z.number().int().min(0),
  attributes: kindCountsSchema,
});
export type Counts = z.infer<typeof countsSchema>;

export const treeSchema = z
  .strictObject({
    format: z.literal(TREE_FORMAT),
    version: z.literal(TREE_VERSION),
    build: z.strictObject({
      sources: z.array(sourceRecordSchema),
      counts: countsSchema,
      /** Free-form figures from the build (unplaced terms, join evidence), for review. */
      notes: z.record(z.string(), z.number()),
    }),
    tissues: z.array(tissueSchema),
  })
  .superRefine((tree, ctx) => {
    const tissueIds = new Set<string>();
    const diseases = new Map<string, { tissue: string; parent: string | null; children: string[] }>();
    tree.tissues.forEach((t, ti) => {
      if (tissueIds.has(t.id))
        ctx.addIssue({ code: 'custom', path: ['tissues', ti, 'id'], message: `duplicate tissue ${t.id}` });
      tissueIds.add(t.id);
      t.diseases.forEach((d, di) => {
        const path = ['tissues', ti, 'diseases', di];
        if (diseases.has(d.id))
          ctx.addIssue({ code: 'custom', path: [...path, 'id'], message: `duplicate disease ${d.id}` });
        diseases.set(d.id, { tissue: t.id, parent: d.parent, children: d.children });
        const names = d.attributes.filter((a) => a.kind === 'name');
        if (names.length !== 1 || names[0]?.text !== d.name) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'attributes'],
            message: `${d.id} needs exactly one name attribute equal to its name`,
          });
        }
      });
    });
    for (const [id, d] of diseases) {
      if (d.parent !== null) {
        const p = diseases.get(d.parent);
        if (!p)
          ctx.addIssue({
            code: 'custom',
            path: ['tissues'],
            message: `${id}: parent ${d.parent} is not in the tree`,
          });
        else if (p.tissue !== d.tissue)
          ctx.addIssue({
            code: 'custom',
            path: ['tissues'],
            message: `${id}: parent ${d.parent} is in another tissue`,
          });
        else if (!p.children.includes(id))
          ctx.addIssue({
            code: 'custom',
            path: ['tissues'],
            message: `${id}: missing from the children of ${d.parent}`,
          });
      }
      for (const c of d.children) {
        if (diseases.get(c)?.parent !== id)
          ctx.addIssue({
            code: 'custom',
            path: ['tissues'],
            message: `${id}: child ${c} does not name it as parent`,
          });
      }
    }
    const actual = countTree(tree.tissues);
    if (JSON.stringify(actual) !== JSON.stringify(tree.build.counts)) {
      ctx.addIssue({
        code: 'custom',
        path: ['build', 'counts'],
        message: `counts ${JSON.stringify(tree.build.counts)} do not match the tree ${JSON.stringify(actual)}`,
      });
    }
  });
export type KnowledgeTree = z.infer<typeof treeSchema>;

export function emptyKindCounts(): KindCounts {
  return { name: 0, synonym: 0, definition: 0, histology: 0, cytology: 0 };
}

export function countTree(tissues: readonly Tissue[]): Counts {
  const attributes = emptyKindCounts();
  let diseases = 0;
  for (const t of tissues) {
    for (const d of t.diseases) {
      diseases++;
      for (const a of d.attributes) attributes[a.kind]++;
    }
  }
  return { tissues: tissues.length, diseases, attributes };
}
