// Reader for OBO 1.2 flat files (the Human Disease Ontology releases and subsets): [Term] stanzas with
// id, name, def, synonyms (text, scope, type), xrefs, is_a, alt_id, subsets and obsolescence. Other
// stanzas ([Typedef], [Instance]) are checked for shape and skipped, because the tree needs terms only.
import { SourceError } from './errors.ts';

export type SynonymScope = 'EXACT' | 'BROAD' | 'NARROW' | 'RELATED';

export interface OboSynonym {
  text: string;
  scope: SynonymScope;
  /** Synonym type such as OMO:0003012 (acronym), when the source gives one. */
  type?: string;
  line: number;
}

export interface OboTerm {
  id: string;
  name: string;
  def?: { text: string; line: number };
  synonyms: OboSynonym[];
  xrefs: string[];
  isA: { id: string; line: number }[];
  altIds: string[];
  subsets: string[];
  obsolete: boolean;
  replacedBy: string[];
  /** Line of the [Term] header. */
  line: number;
}

export interface OboHeader {
  formatVersion?: string;
  dataVersion?: string;
  date?: string;
  ontology?: string;
}

export interface OboDocument {
  file: string;
  header: OboHeader;
  terms: OboTerm[];
}

const SCOPES = new Set(['EXACT', 'BROAD', 'NARROW', 'RELATED']);
const KNOWN_STANZAS = new Set(['Term', 'Typedef', 'Instance']);

/** Strips a trailing "! comment" that is not inside quotes and not escaped. */
function stripComment(value: string): string {
  let inQuote = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '"') inQuote = !inQuote;
    else if (c === '!' && !inQuote && (i === 0 || value[i - 1] === ' ')) return value.slice(0, i).trimEnd();
  }
  return value.trimEnd();
}

function unescapeObo(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => {
    if (c === 'n') return '\n';
    if (c === 't') return '\t';
    if (c === 'W') return ' ';
    return c;
  });
}

/** Splits `"quoted text" rest` into the unescaped text and the rest; undefined when it is not so shaped. */
function readQuoted(value: string): { text: string; rest: string } | undefined {
  if (!value.startsWith('"')) return undefined;
  for (let i = 1; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '"') return { text: unescapeObo(value.slice(1, i)), rest: value.slice(i + 1).trim() };
  }
  return undefined;
}

interface Draft {
  kind: string;
  line: number;
  tags: { tag: string; value: string; line: number }[];
}

export function parseObo(text: string, file: string): OboDocument {
  const lines = text.split(/\r?\n/);
  const header: OboHeader = {};
  const drafts: Draft[] = [];
  let current: Draft | undefined;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i] ?? '';
    const line = raw.trim();
    if (line === '' || line.startsWith('!')) continue;
    if (line.startsWith('[')) {
      const m = /^\[([A-Za-z]+)\]$/.exec(line);
      if (!m || !KNOWN_STANZAS.has(m[1] ?? '')) {
        throw new SourceError(
          { file, line: lineNo, field: 'stanza' },
          `malformed stanza header ${JSON.stringify(line)}`,
        );
      }
      current = { kind: m[1] ?? '', line: lineNo, tags: [] };
      drafts.push(current);
      continue;
    }
    const colon = line.indexOf(':');
    const tag = colon > 0 ? line.slice(0, colon) : '';
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(tag)) {
      throw new SourceError(
        { file, line: lineNo, field: current ? `${current.kind} tag` : 'header tag' },
        `expected "tag: value", found ${JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line)}`,
      );
    }
    const value = line.slice(colon + 1).trim();
    if (!current) {
      if (tag === 'format-version') header.formatVersion = value;
      else if (tag === 'data-version') header.dataVersion = value;
      else if (tag === 'date') header.date = value;
      else if (tag === 'ontology') header.ontology = value;
      continue;
    }
    current.tags.push({ tag, value, line: lineNo });
  }

  const terms: OboTerm[] = [];
  const seen = new Map<string, number>();
  for (const d of drafts) {
    if (d.kind !== 'Term') {
      if (!d.tags.some((t) => t.tag === 'id')) {
        throw new SourceError({ file, line: d.line, field: 'id' }, `[${d.kind}] stanza without an id`);
      }
      continue;
    }
    terms.push(termFromDraft(d, file, seen));
  }
  return { file, header, terms };
}

function termFromDraft(d: Draft, file: string, seen: Map<string, number>): OboTerm {
  const term: Partial<OboTerm> &
    Pick<OboTerm, 'synonyms' | 'xrefs' | 'isA' | 'altIds' | 'subsets' | 'replacedBy'> = {
    synonyms: [],
    xrefs: [],
    isA: [],
    altIds: [],
    subsets: [],
    replacedBy: [],
    obsolete: false,
    line: d.line,
  };
  const single = (tag: string, line: number, have: unknown): void => {
    if (have !== undefined)
      throw new SourceError({ file, line, field: tag }, `a [Term] may have only one "${tag}"`);
  };
  for (const { tag, value, line } of d.tags) {
    const v = stripComment(value);
    switch (tag) {
      case 'id':
        single(tag, line, term.id);
        if (!/^\S+$/.test(v))
          throw new SourceError({ file, line, field: 'id' }, `malformed id ${JSON.stringify(v)}`);
        term.id = v;
        break;
      case 'name':
        single(tag, line, term.name);
        if (v === '') throw new SourceError({ file, line, field: 'name' }, 'empty name');
        term.name = unescapeObo(v);
        break;
      case 'def': {
        single(tag, line, term.def);
        const q = readQuoted(v);
        if (!q)
          throw new SourceError(
            { file, line, field: 'def' },
            'expected a definition in double quotes followed by [xrefs]',
          );
        if (!q.rest.startsWith('['))
          throw new SourceError(
            { file, line, field: 'def' },
            'missing the [xrefs] list after the definition',
          );
        term.def = { text: q.text, line };
        break;
      }
      case 'synonym': {
        const q = readQuoted(v);
        if (!q)
          throw new SourceError({ file, line, field: 'synonym' }, 'expected a synonym in double quotes');
        const m = /^([A-Z]+)(?:\s+([^\s[]+))?\s*\[/.exec(q.rest);
        if (!m || !SCOPES.has(m[1] ?? '')) {
          throw new SourceError(
            { file, line, field: 'synonym' },
            `expected a scope (EXACT, BROAD, NARROW, RELATED) and [xrefs] after the synonym, found ${JSON.stringify(q.rest)}`,
          );
        }
        const syn: OboSynonym = { text: q.text, scope: m[1] as SynonymScope, line };
        if (m[2]) syn.type = m[2];
        term.synonyms.push(syn);
        break;
      }
      case 'xref': {
        const x = /^(\S+)/.exec(v)?.[1];
        if (!x) throw new SourceError({ file, line, field: 'xref' }, 'empty xref');
        term.xrefs.push(unescapeObo(x));
        break;
      }
      case 'is_a': {
        const target = v.split(/\s+/)[0] ?? '';
        if (target === '' || target.includes('"'))
          throw new SourceError({ file, line, field: 'is_a' }, 'is_a needs a term id');
        term.isA.push({ id: target, line });
        break;
      }
      case 'alt_id':
        term.altIds.push(v);
        break;
      case 'subset':
        term.subsets.push(v);
        break;
      case 'is_obsolete':
        if (v !== 'true' && v !== 'false')
          throw new SourceError(
            { file, line, field: 'is_obsolete' },
            `expected true or false, found ${JSON.stringify(v)}`,
          );
        term.obsolete = v === 'true';
        break;
      case 'replaced_by':
        term.replacedBy.push(v);
        break;
      default:
        // Other tags (comment, property_value, created_by, relationship, …) carry nothing the tree uses.
        break;
    }
  }
  if (term.id === undefined)
    throw new SourceError({ file, line: d.line, field: 'id' }, '[Term] stanza without an id');
  const prev = seen.get(term.id);
  if (prev !== undefined) {
    throw new SourceError(
      { file, line: d.line, field: 'id' },
      `duplicate [Term] ${term.id} (first at line ${prev})`,
    );
  }
  seen.set(term.id, d.line);
  if (term.name === undefined) {
    throw new SourceError({ file, line: d.line, field: 'name' }, `[Term] ${term.id} has no name`);
  }
  return term as OboTerm;
}
