// A disease's attributes as a set: texts equal up to case and punctuation are one attribute whose
// provenance lists every source that gave it. Names and synonyms share a key space, so a synonym
// equal to the name adds only provenance.
import { cleanText, compareText, textKey } from './normalise.ts';
import { ATTRIBUTE_KINDS, type Attribute, type AttributeKind, type Provenance } from './schema.ts';
import { SOURCES } from './sources.ts';

export class AttributeSet {
  private readonly byKey = new Map<string, Attribute>();

  constructor(initial: readonly Attribute[] = []) {
    for (const a of initial) for (const p of a.provenance) this.addClean(a.kind, a.text, p);
  }

  /** Names and synonyms share one key space: a synonym equal to the name adds only provenance. */
  private key(kind: AttributeKind, text: string): string {
    const group = kind === 'name' || kind === 'synonym' ? 'label' : kind;
    return `${group}\u0000${textKey(text)}`;
  }

  /** Adds a text after tidying it (cleanText); returns false when it was already there. */
  add(kind: AttributeKind, rawText: string, provenance: Provenance): boolean {
    return this.addClean(kind, cleanText(rawText), provenance);
  }

  private addClean(kind: AttributeKind, text: string, provenance: Provenance): boolean {
    if (textKey(text) === '') return false;
    const k = this.key(kind, text);
    const have = this.byKey.get(k);
    if (!have) {
      this.byKey.set(k, { kind, text, provenance: [{ ...provenance }] });
      return true;
    }
    if (kind === 'name' && have.kind === 'synonym') {
      // The head name outranks a synonym that happens to equal it.
      have.kind = 'name';
      have.text = text;
    }
    if (!have.provenance.some((p) => p.source === provenance.source && p.ref === provenance.ref))
      have.provenance.push({ ...provenance });
    return false;
  }

  has(kind: AttributeKind, text: string): boolean {
    return this.byKey.has(this.key(kind, cleanText(text)));
  }

  list(): Attribute[] {
    return sortAttributes([...this.byKey.values()]);
  }
}

const KIND_ORDER = new Map(ATTRIBUTE_KINDS.map((k, i) => [k, i]));
const SOURCE_ORDER = new Map(SOURCES.map((s, i) => [s.id as string, i]));

export function sortAttributes(attrs: Attribute[]): Attribute[] {
  for (const a of attrs) {
    a.provenance.sort(
      (x, y) =>
        (SOURCE_ORDER.get(x.source) ?? SOURCES.length) - (SOURCE_ORDER.get(y.source) ?? SOURCES.length) ||
        compareText(x.source, y.source) ||
        compareText(x.ref, y.ref),
    );
  }
  return attrs.sort(
    (a, b) =>
      (KIND_ORDER.get(a.kind) ?? 0) - (KIND_ORDER.get(b.kind) ?? 0) ||
      compareText(textKey(a.text), textKey(b.text)) ||
      compareText(a.text, b.text),
  );
}
