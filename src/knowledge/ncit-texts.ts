// NCIt roles phrased as sentences. NCIt states what a pathologist sees as roles of a disease
// (Disease_Has_Finding some 'Papillary Pattern', Disease_Has_Abnormal_Cell some 'Neoplastic
// Astrocyte'); the tree's histology and cytology kinds are texts, so each group of roles becomes one
// sentence. The sentence does not name the disease ("Microscopically, it shows …"): descriptions
// written by pathologists rarely repeat the name, and a name inside every histology text would let
// retrieval (BM25 and the encoder alike) match names instead of findings — measured: with the name
// as subject, BM25 found the disease from its name for 65 % of NCIt histology texts. Only
// microscopic findings make histology: NCIt's findings also hold symptoms, laboratory results and
// clinical course.
import type { AttributeKind } from './schema.ts';

export interface RolePhrase {
  kind: AttributeKind;
  /** The NCIt role names read, in the order the sentence states them. */
  roles: readonly string[];
  /** The sentence, given the fillers already phrased as a list. */
  sentence: (list: string) => string;
  /** Only fillers below this NCIt class count (microscopic findings). */
  under?: string;
}

export const ROLE_PHRASES: readonly RolePhrase[] = [
  {
    kind: 'histology',
    roles: ['Disease_Has_Finding'],
    under: 'C83490',
    sentence: (l) => `Microscopically, it shows ${l}.`,
  },
  {
    kind: 'histology',
    roles: ['Disease_May_Have_Finding'],
    under: 'C83490',
    sentence: (l) => `On microscopic examination it may show ${l}.`,
  },
  {
    kind: 'histology',
    roles: ['Disease_Has_Normal_Tissue_Origin'],
    sentence: (l) => `It arises from ${l}.`,
  },
  {
    kind: 'cytology',
    roles: ['Disease_Has_Abnormal_Cell'],
    sentence: (l) => `It contains ${l}.`,
  },
  {
    kind: 'cytology',
    roles: ['Disease_May_Have_Abnormal_Cell'],
    sentence: (l) => `It may contain ${l}.`,
  },
  {
    kind: 'cytology',
    roles: ['Disease_Has_Normal_Cell_Origin', 'Disease_May_Have_Normal_Cell_Origin'],
    sentence: (l) => `Its cells derive from ${l}.`,
  },
];

/**
 * An NCIt label as running text: ordinary capitalised words lower-cased ("Microvascular
 * Proliferation" → "microvascular proliferation"), abbreviations and single letters kept ("T-Cell",
 * "CD30-Positive" → "T-cell", "CD30-positive"); a trailing "Present" dropped ("Myxoid Changes Present").
 */
export function runningText(label: string): string {
  return label
    .replace(/\s+Present$/, '')
    .split(' ')
    .map((word) =>
      word
        .split('-')
        .map((part) => (/^[A-Z][a-z]+$/.test(part) ? part.toLowerCase() : part))
        .join('-'),
    )
    .join(' ');
}

/** Cells in the plural: "neoplastic astrocyte" → "neoplastic astrocytes". */
export function pluralCells(text: string): string {
  if (/(cell|cyte|blast|phage|plasmacyte)$/i.test(text)) return `${text}s`;
  return text;
}

/** "a", "a and b", "a, b and c". */
export function listText(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
