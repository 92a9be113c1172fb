// Splits definition texts into sentences. Definitions come from ontologies and dictionaries, so the
// splitter knows their abbreviations ("e.g.", "approx.", "et al.", "No.", initials as in "J. Smith")
// and does not break inside brackets ("(Stedman, 25th ed.)").

const ABBREVIATIONS = new Set([
  'e.g',
  'i.e',
  'etc',
  'approx',
  'al',
  'vs',
  'cf',
  'no',
  'nos',
  'fig',
  'figs',
  'st',
  'dr',
  'mr',
  'mrs',
  'ms',
  'ed',
  'eds',
  'vol',
  'ca',
  'spp',
  'sp',
  'var',
  'subsp',
  'resp',
  'incl',
  'chr',
]);

export function splitSentences(text: string): string[] {
  // Stray leading punctuation (".A connective tissue disease …" in DO 2016) is a typing slip.
  const t = text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[.,;:]+\s*/, '');
  if (t === '') return [];
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === '(' || c === '[') depth++;
    else if ((c === ')' || c === ']') && depth > 0) depth--;
    if (depth > 0 || (c !== '.' && c !== '?' && c !== '!')) continue;
    // A sentence ends at terminal punctuation followed by a space and a capital, digit or bracket.
    const next = t.slice(i + 1, i + 3);
    if (!/^ [A-Z0-9("[]/.test(next)) continue;
    if (c === '.') {
      const word = /([A-Za-z.]+)$/.exec(t.slice(start, i))?.[1] ?? '';
      const bare = word.toLowerCase();
      if (ABBREVIATIONS.has(bare)) continue;
      // A single capital before the stop is an initial ("J. Smith", "Type A. ") only when more
      // text follows on the same subject; treating it as an initial keeps "Hepatitis A. It …" whole
      // at worst, which costs less than splitting a person's name.
      if (/^[A-Z]$/.test(word)) continue;
      // Decimal numbers and versions ("1.5 cm") have no space after the dot, so they never reach here.
    }
    const s = t.slice(start, i + 1).trim();
    if (s) out.push(s);
    start = i + 2;
  }
  const rest = t.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}
