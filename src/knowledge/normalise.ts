// Text keys. Two texts are "the same" for deduplication when they differ only in case, punctuation
// or spacing ("Hemangiosarcoma," = "hemangiosarcoma"); name matching (the OncoTree–DO join, user
// imports, prompt look-ups) also drops OncoTree's "NOS" (not otherwise specified) qualifier.

/** Case-, punctuation- and space-insensitive key used for deduplication. */
export function textKey(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}\s_]+/gu, ' ')
    .trim();
}

/** Key for matching disease names across sources. */
export function nameKey(text: string): string {
  return textKey(text)
    .split(' ')
    .filter((w) => w !== 'nos')
    .join(' ');
}

/**
 * Tidies a source text for use as a training sample: the Disease Ontology writes its relations with
 * underscores ("located_in", "has_material_basis_in") and units as "5_mm"; spaces read as language.
 */
export function cleanText(text: string): string {
  return text
    .replace(/(?<=[\p{L}\p{N}])_(?=[\p{L}\p{N}])/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Plain code-unit order: the same on every machine and locale, which byte-identical rebuilds need. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function wordCount(text: string): number {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}
