// Reader for DO-subClassOf-anonymous.tsv: each disease's anonymous superclasses written in OWL
// Manchester syntax, alternatives separated by "|", e.g.
//   'disease has location' some lung|'derives from' some ('epithelial cell' and (has_origin some gland))
// The tree needs the (relation, filler) pairs: anatomical location places a disease under a tissue,
// and cell of origin is a cellular feature.
import { SourceError } from './errors.ts';
import { parseTsv } from './tsv.ts';

export interface Restriction {
  relation: string;
  /** Named classes the restriction points at: one, or several for "(a or b)" and "(a and …)". */
  fillers: string[];
  /** True when the fillers were joined by "or" (any one of them), false for a single class or "and". */
  alternatives: boolean;
}

export interface DiseaseAxioms {
  id: string;
  label: string;
  restrictions: Restriction[];
  line: number;
}

type Token = { kind: 'open' } | { kind: 'close' } | { kind: 'name'; text: string };

function tokenise(expr: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] ?? '';
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '(') {
      tokens.push({ kind: 'open' });
      i++;
    } else if (c === ')') {
      tokens.push({ kind: 'close' });
      i++;
    } else if (c === "'") {
      const end = expr.indexOf("'", i + 1);
      if (end < 0) return `unterminated quoted name at column ${i + 1}`;
      tokens.push({ kind: 'name', text: expr.slice(i + 1, end) });
      i = end + 1;
    } else {
      let j = i;
      // A quote inside a bare name is part of it (diphenylmethane-4,4'-diisocyanate).
      while (j < expr.length && !' \t()'.includes(expr[j] ?? ' ')) j++;
      tokens.push({ kind: 'name', text: expr.slice(i, j) });
      i = j;
    }
  }
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'open') depth++;
    else if (t.kind === 'close' && --depth < 0) return 'unbalanced ")"';
  }
  if (depth !== 0) return 'unbalanced "("';
  return tokens;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'some', 'only', 'value']);

function isName(t: Token | undefined, text?: string): t is { kind: 'name'; text: string } {
  return t !== undefined && t.kind === 'name' && (text === undefined || t.text === text);
}

/** Every `relation some filler` in one Manchester expression; a string on a syntax error. */
export function parseRestrictions(expr: string): Restriction[] | string {
  const tokens = tokenise(expr);
  if (typeof tokens === 'string') return tokens;
  const out: Restriction[] = [];
  for (let i = 1; i < tokens.length; i++) {
    if (!isName(tokens[i], 'some')) continue;
    const rel = tokens[i - 1];
    if (!isName(rel) || KEYWORDS.has(rel.text)) return `"some" without a relation before it`;
    const next = tokens[i + 1];
    if (isName(next)) {
      if (KEYWORDS.has(next.text)) return `"some" without a class after it`;
      out.push({ relation: rel.text, fillers: [next.text], alternatives: false });
      continue;
    }
    if (next?.kind !== 'open') return `"some" without a class after it`;
    // Collect the named classes directly inside the group, skipping nested restrictions
    // (those are found on their own by this loop).
    const fillers: string[] = [];
    let depth = 0;
    let sawOr = false;
    for (let j = i + 1; j < tokens.length; j++) {
      const t = tokens[j];
      if (!t) break;
      if (t.kind === 'open') depth++;
      else if (t.kind === 'close') {
        if (--depth === 0) break;
      } else if (depth === 1) {
        if (t.text === 'or') sawOr = true;
        else if (!KEYWORDS.has(t.text) && !isName(tokens[j + 1], 'some')) fillers.push(t.text);
      }
    }
    if (fillers.length > 0) out.push({ relation: rel.text, fillers, alternatives: sawOr });
  }
  return out;
}

export function readSubClassOfAxioms(text: string, file: string): DiseaseAxioms[] {
  const column = 'SubClass Of [ANON]';
  const table = parseTsv(text, file, ['ID', 'LABEL', column]);
  return table.rows.map(({ line, fields }) => {
    const id = fields['ID'] ?? '';
    if (!/^DOID:\d+$/.test(id))
      throw new SourceError({ file, line, field: 'ID' }, `expected a DOID, found ${JSON.stringify(id)}`);
    const restrictions: Restriction[] = [];
    for (const part of (fields[column] ?? '').split('|')) {
      if (part.trim() === '') continue;
      const r = parseRestrictions(part);
      if (typeof r === 'string')
        throw new SourceError({ file, line, field: column }, `${r} in ${JSON.stringify(part)}`);
      restrictions.push(...r);
    }
    return { id, label: fields['LABEL'] ?? '', restrictions, line };
  });
}
