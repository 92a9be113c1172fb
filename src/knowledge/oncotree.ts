// Reader for an OncoTree release tree (github.com/cBioPortal/oncotree `trees/*.json`, also the
// OncoTree API's /tumorTypes/tree): a nested object rooted at "TISSUE" whose level-1 children are the
// tissues and whose deeper nodes are tumour types.
import { z } from 'zod';
import { SourceError } from './errors.ts';
import { parseLocatedJson, type JsonValue, type LocatedJson } from './located-json.ts';

export interface OncotreeNode {
  code: string;
  name: string;
  mainType: string | null;
  /** The tissue's display name as OncoTree writes it (e.g. "Ovary/Fallopian Tube"). */
  tissue: string;
  /** Code of the parent node; the root's code for a tissue. */
  parent: string;
  level: number;
  umls: string[];
  ncit: string[];
  children: string[];
  line: number;
  column: number;
}

export interface Oncotree {
  file: string;
  root: string;
  /** Level-1 nodes, in file order. */
  tissues: OncotreeNode[];
  /** Level ≥ 2 nodes (tumour types), in file order (depth first). */
  tumourTypes: OncotreeNode[];
}

const nodeShape = z.object({
  code: z.string().regex(/^\S+$/, 'a code without spaces'),
  name: z.string().min(1),
  mainType: z.string().nullable(),
  tissue: z.string().nullable(),
  parent: z.string().nullable(),
  level: z.number().int().min(0),
  externalReferences: z
    .object({ UMLS: z.array(z.string()).optional(), NCI: z.array(z.string()).optional() })
    .catchall(z.unknown()),
  children: z.record(z.string(), z.unknown()),
});

function check(json: LocatedJson, node: JsonValue, path: string): z.infer<typeof nodeShape> {
  const r = nodeShape.safeParse(node);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = typeof issue?.path[0] === 'string' ? issue.path[0] : undefined;
  const at = typeof node === 'object' && node !== null ? json.where(node, key) : { line: 0, column: 0 };
  const field = [path, ...(issue?.path ?? []).map(String)].join('.');
  throw new SourceError(
    { file: json.file, line: at.line, column: at.column, field },
    issue?.message ?? 'invalid node',
  );
}

export function readOncotree(text: string, file: string): Oncotree {
  const json = parseLocatedJson(text, file);
  const top = json.value;
  if (typeof top !== 'object' || top === null || Array.isArray(top)) {
    throw new SourceError(
      { file, line: 1, field: '(document)' },
      'expected an object with the root node "TISSUE"',
    );
  }
  const rootValue = top['TISSUE'];
  if (rootValue === undefined)
    throw new SourceError({ file, line: 1, field: 'TISSUE' }, 'missing the root node "TISSUE"');
  const root = check(json, rootValue, 'TISSUE');

  const tissueNames = new Set<string>();
  for (const child of Object.values(root.children)) {
    const c = check(json, child as JsonValue, `TISSUE.children`);
    if (c.level === 1 && c.tissue) tissueNames.add(c.tissue);
  }

  const tissues: OncotreeNode[] = [];
  const tumourTypes: OncotreeNode[] = [];
  const seen = new Map<string, number>();
  const walk = (
    value: JsonValue,
    raw: z.infer<typeof nodeShape>,
    path: string,
    parentCode: string,
    parentLevel: number,
  ) => {
    const obj = value as object;
    const at = (key?: string) => json.where(obj, key);
    const fail = (key: string, reason: string): never => {
      const p = at(key);
      throw new SourceError({ file, line: p.line, column: p.column, field: `${path}.${key}` }, reason);
    };
    if (raw.parent !== parentCode)
      fail('parent', `is ${JSON.stringify(raw.parent)} but the node sits under ${parentCode}`);
    if (raw.level !== parentLevel + 1)
      fail('level', `is ${raw.level} but the node sits at level ${parentLevel + 1}`);
    if (raw.tissue === null || !tissueNames.has(raw.tissue)) {
      fail(
        'tissue',
        `unknown tissue ${JSON.stringify(raw.tissue)} (OncoTree's level-1 tissues are ${[...tissueNames].sort().join(', ')})`,
      );
    }
    const prev = seen.get(raw.code);
    if (prev !== undefined) fail('code', `duplicate code ${raw.code} (also on line ${prev})`);
    seen.set(raw.code, at().line);
    const node: OncotreeNode = {
      code: raw.code,
      name: raw.name.trim(),
      mainType: raw.mainType,
      tissue: raw.tissue as string,
      parent: parentCode,
      level: raw.level,
      umls: [...(raw.externalReferences.UMLS ?? [])],
      ncit: [...(raw.externalReferences.NCI ?? [])],
      children: [],
      ...at(),
    };
    (node.level === 1 ? tissues : tumourTypes).push(node);
    for (const [key, childValue] of Object.entries(raw.children)) {
      const childPath = `${path}.children.${key}`;
      const child = check(json, childValue as JsonValue, childPath);
      if (child.code !== key) {
        const p = json.where(childValue as object, 'code');
        throw new SourceError(
          { file, line: p.line, column: p.column, field: `${childPath}.code` },
          `is ${child.code} but the member is named ${key}`,
        );
      }
      node.children.push(child.code);
      walk(childValue as JsonValue, child, childPath, node.code, node.level);
    }
  };
  for (const [key, childValue] of Object.entries(root.children)) {
    const child = check(json, childValue as JsonValue, `TISSUE.children.${key}`);
    walk(childValue as JsonValue, child, `TISSUE.children.${key}`, root.code, root.level);
  }
  return { file, root: root.code, tissues, tumourTypes };
}
