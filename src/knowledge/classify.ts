// Decides whether a definition sentence describes microscopic, tissue-level features (histology),
// features of cells (cytology), or neither. The open sources have no histology or cytology sections,
// so these attributes are the sentences of DO definitions that describe such features.
//
// How: transparent cue rules rather than a trained model, because the labelled data are a few hundred
// sentences and every decision must be explainable in a review of the tree.
//  1. The genus of an ontology definition ("A squamous cell carcinoma that …") and the disease's own
//     names are masked: they name the disease, they do not describe it.
//  2. Architecture cues (glands, nests, stroma, invasion, rosettes, "microscopically", tissue of origin
//     such as "composed of adipose tissue") make a sentence histology.
//  3. Otherwise cell cues (nuclei, cytoplasm, mitoses, a cell type described or named as the cell of
//     origin, "derives from epithelial cells") make it cytology.
//  4. Weaker tissue cues (necrosis, fibrosis, hyperplasia) count as histology only two together.
// A sentence with both architecture and cell detail is histology: the paper's histology texts carry
// cell detail too, while its cytology texts are about cells alone.

export type SentenceClass = 'histology' | 'cytology' | 'other';

export interface Classification {
  label: SentenceClass;
  /** The cues that decided it, for review and for the documentation of the rules. */
  cues: string[];
}

const ARCHITECTURE: readonly RegExp[] = [
  /\bmicroscop\w*/,
  /\bhistolog\w*/,
  /\bhistopatholog\w*/,
  /\barchitectur\w*/,
  /\b(growth|storiform|lepidic|solid|trabecular|papillary|cribriform|nested|alveolar|acinar|infiltrative|whorled|diffuse|nodular|follicular|glandular|micropapillary|perivascular) patterns?\b/,
  /\bcribriform\b/,
  /\btrabecul\w*/,
  /\bfascicl\w*/,
  /\bstoriform\b/,
  /\bwhorl\w*/,
  /\b(pseudo)?rosettes?\b/,
  /\bpalisad\w*/,
  /\bpsammoma\b/,
  /\bkeratin pearls?\b/,
  /\bintercellular bridges\b/,
  /\bgranulom\w*/,
  /(?<!corneal |posterior corneal )\bstroma\w*/,
  /\bdesmoplas\w*/,
  /\bfibrovascular\b/,
  /\blamina propria\b/,
  /\bsubmucos\w*/,
  /\bmuscularis\b/,
  /\bbasement membrane\b/,
  /\bcaseat\w*/,
  /\btubercles?\b/,
  /\bcrypts?\b/,
  /\bvilli\b/,
  /\bpapillae\b/,
  /\bfronds?\b/,
  /\bfinger-like projections\b/,
  /\blobules?\b/,
  /\bnests?\b/,
  /\bsheets\b/,
  /\bcords\b/,
  /(?<!(adrenal|salivary|sweat|sebaceous|lacrimal|thyroid|parathyroid|pituitary|mammary|lymph|apocrine|eccrine|endocrine|exocrine|mucous|minor salivary|bulbourethral|vestibular|tarsal|meibomian) )\b(glands|glandular (structures|formation|differentiation|pattern))\b/,
  /\btubules\b/,
  /\bacini\b/,
  /\bcystic spaces\b/,
  /(?<!intracytoplasmic |intracellular )\bmucin\b|\bextracellular mucin\b|\bmucin pools\b|\bmucinous (component|stroma|background|lakes)\b/,
  /\bmyxoid\b/,
  /\bhyalin\w*/,
  /\binfiltrat\w* (into|of|in) the\b/,
  /\b(dense|inflammatory|lymphocytic|lymphoplasmacytic) infiltrat\w*/,
  /\binvasion\b/,
  /\binvades?\b/,
  /\bperivascular\w*/,
  /\bsepta\b/,
  /\binterstiti(um|al (fibrosis|infiltrate))\b/,
  // Tissue of origin or composition: the histological type of the lesion.
  /\b(composed|consisting|formed|made up|material basis in|derives? from|derived from|arises? from|arising from|originat\w* (in|from))\b[^.;]{0,60}\b(epithelial|glandular|connective|adipose|fatty|muscle|smooth muscle|fibrous|thyroid|trophoblastic|lymphoid|neural|osseous|bone|cartilag\w*|vascular|mesenchymal|germinal) tissue\b/,
  /\b(epithelial|glandular) tissue (of|with) glandular origin\b/,
  /\bcomposed (either )?(exclusively |predominantly |mainly |entirely )*(of|by)\b[^.;]{0,40}\btissue\b/,
  /\bdisorganized tissue\b/,
  /\b(lined|lining) by\b/,
];

const WEAK_TISSUE: readonly RegExp[] = [
  /\bnecros\w*|\bnecrotic\b/,
  /\bfibros\w*|\bfibrous\b/,
  /\bcalcific\w*/,
  /\bhyperplas\w*/,
  /\bmetaplas\w*/,
  /\bdysplas\w*/,
  /\bdifferentiat\w*/,
  /\bcysts?\b/,
  /\binfiltrat\w*/,
  /\bmitotic rate\b/,
];

const CELL_ADJECTIVES =
  'spindle|spindle-shaped|giant|clear|signet ring|signet-ring|epithelioid|polygonal|columnar|cuboidal|round|oval|small|large|plasmacytoid|rhabdoid|anaplastic|atypical|pleomorphic|hairy|binucleated?|multinucleated?|foam|foamy|undifferentiated|immature|abnormal plasma|reed-sternberg|tumou?r|neoplastic|cancer|malignant|transformed|proliferating|abnormally proliferating';

// Cell types whose mere mention says what the lesion's cells look like. Lineage and tissue names
// (B, T, NK, germ, liver cells) count only in an origin or composition phrase: on their own they
// mostly describe immune function or development, not the cells seen.
const CELL_TYPES =
  'squamous|basal|transitional|urothelial|ependymal|glial|neuroendocrine|myoepithelial|endothelial|mesothelial|follicular dendritic|dendritic|langerhans|mast|plasma|stromal|chromaffin|parafollicular|merkel|melanocytic|granulosa|theca|sertoli|leydig|decidual|foam|mucous|goblet|paneth|chief|parietal|oncocytic|hobnail|clear';

const CELL: readonly RegExp[] = [
  /\bnucle(us|i|ar|oli|olus)\b/,
  /\bcytoplasm\w*/,
  /\bchromatin\b/,
  /\bmitos[ie]s\b|\bmitotic\b/,
  /\bvacuol\w*/,
  /\binclusions?( bodies)?\b|\bpseudoinclusions?\b/,
  /\bgranules\b/,
  /\bintra(cytoplasmic|cellular) mucin\b/,
  /\b(heinz|auer|russell|mallory) (bodies|rods|hyaline)\b/,
  /\bkoilocyt\w*/,
  /\bcell (size|shape|membranes?)\b/,
  /\bpleomorph\w*/,
  /\batypia\b/,
  /\b(lympho|myelo|erythro|mono|megakaryo)?blasts\b/,
  /\b(lymphocytes|histiocytes|macrophages|neutrophils|eosinophils|erythrocytes|plasmacytes|monocytes|megakaryocytes|keratinocytes|melanocytes|hepatocytes|adipocytes|chondrocytes|osteoblasts|fibroblasts|myofibroblasts|astrocytes|oligodendrocytes|neurons|trophoblasts)\b/,
  /\berythroid\b|\bprogenitors\b/,
  /\blineage\b/,
  // Plural only: "small cell", "clear cell", "giant cell" in the singular are mostly tumour names
  // ("small cell lung carcinoma"), while descriptions speak of the cells ("composed of small cells").
  new RegExp(`\\b(${CELL_ADJECTIVES}) (\\w+ )?cells\\b`),
  new RegExp(`\\b(${CELL_TYPES})[ -]?cells\\b`),
  /\bcells? (with|having|that (are|have|contain|look|appear)|are (larger|smaller|round|spindle|arranged)|contain|show|have)\b/,
  /\b(derives?|derived|arises?|arising|originat\w*|develops?) (from|in) (the )?([\w-]+ ){0,4}cells?\b/,
  /\b(material basis in|composed of|consisting of|proliferation of|increase of|increase in|accumulation of [\w-]+ in) ([\w-]+ ){0,3}([\w]+-)?cells?\b/,
  /\bcells? of ([\w-]+ ){0,2}origin\b/,
  /\b(affects|effects|involves) the ([\w-]+ ){0,3}cells\b/,
];

/** Words of the genus phrase end where the differentia begins. */
const DIFFERENTIA =
  /\s(that|which|who|whose|characteri[sz]ed|located|arising|arises|derived|derives|composed|consisting|in which|where|with|affecting|involving|caused|resulting|occurring|has|having)\b/i;

/** The sentence with the genus and the given disease names blanked, lower-cased, for cue matching. */
export function describingPart(sentence: string, names: readonly string[] = []): string {
  let s = ` ${sentence.trim()} `;
  const genus = /^\s(a|an)\s/i.exec(s);
  if (genus) {
    const m = DIFFERENTIA.exec(s.slice(genus[0].length));
    if (m) s = ` ${s.slice(genus[0].length + m.index)}`;
  }
  // Plain substring search on the lower-cased text: a regular expression per name and sentence
  // dominated the build's time.
  let lower = s.toLowerCase();
  const isWordChar = (c: string | undefined) => c !== undefined && /[\w-]/.test(c);
  for (const n of [...names].map((x) => x.trim().toLowerCase()).sort((a, b) => b.length - a.length)) {
    if (n.length < 3) continue;
    for (let i = lower.indexOf(n); i >= 0; i = lower.indexOf(n, i + 1)) {
      if (isWordChar(lower[i - 1]) || isWordChar(lower[i + n.length])) continue;
      lower = `${lower.slice(0, i)}${' '.repeat(n.length)}${lower.slice(i + n.length)}`;
    }
  }
  return lower.replace(/\s+/g, ' ');
}

function hits(text: string, cues: readonly RegExp[]): string[] {
  const out: string[] = [];
  for (const re of cues) {
    const m = re.exec(text);
    if (m) out.push(m[0].trim());
  }
  return out;
}

export function classifySentence(sentence: string, names: readonly string[] = []): Classification {
  const text = describingPart(sentence, names);
  const arch = hits(text, ARCHITECTURE);
  if (arch.length > 0) return { label: 'histology', cues: arch };
  const cell = hits(text, CELL);
  if (cell.length > 0) return { label: 'cytology', cues: cell };
  const weak = hits(text, WEAK_TISSUE);
  if (weak.length >= 2) return { label: 'histology', cues: weak };
  return { label: 'other', cues: [] };
}
