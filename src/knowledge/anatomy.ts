// Which of OncoTree's 32 tissues an anatomical term or a disease name points at. The Disease
// Ontology locates diseases with Uberon anatomy labels ('disease has location' some 'body of uterus')
// and names them after organs ("vulvar leiomyosarcoma"); OncoTree files tumours by tissue. The table
// below bridges the two vocabularies. It was written by hand from the location labels that occur in
// DO-subClassOf-anonymous.tsv and from OncoTree's own filing (parathyroid tumours under Head and Neck,
// trophoblastic tumours under Uterus, mastocytosis and histiocytoses under Myeloid).
import { textKey } from './normalise.ts';

/** Site words: anatomy that places a disease, from a location axiom or from the disease's name. */
const SITES: readonly (readonly [string, string])[] = [
  ['ADRENAL_GLAND', 'adrenal|adrenal glands?|adrenal cortex|adrenal medulla|adrenocortical|suprarenal'],
  ['AMPULLA_OF_VATER', 'ampulla of vater|ampullary|hepatopancreatic ampulla|periampullary'],
  [
    'BILIARY_TRACT',
    'bile ducts?|biliary|biliary tract|gallbladder|gall bladder|intrahepatic bile ducts?|extrahepatic bile ducts?|cholangio\\w*|hilar cholangio\\w*',
  ],
  [
    'BLADDER',
    'urinary bladder|bladder|urethra|urethral|ureter|ureteral|ureteric|renal pelvis|urachus|urachal|urinary tract|lower urinary tract|urothelial|paraurethral glands?',
  ],
  [
    'BONE',
    'bones?|bone element|osseous|skeletal system|vertebral column|vertebrae?|spine|spinal column|femur|femoral bone|tibia|fibula|humerus|radius bone|ulna|ribs?|sternum|patella|skull|cranial bone|facial bone|bony pelvis|pelvic bone|sacrum|epiphysis|metaphysis|diaphysis|long bones?|limb long bone|phalanx|cartilage|cartilage tissue|hyaline cartilage tissue|chondro\\w*|osteo\\w*|costochondral joint|intervertebral disk',
  ],
  [
    'BOWEL',
    'bowel|intestines?|intestinal|small intestine|large intestine|colon|colonic|colorectal|colorectum|rectum|rectal|rectosigmoid|sigmoid colon|cecum|caecum|cecal|appendix|appendiceal|vermiform appendix|ileum|ileal|jejunum|jejunal|duodenum|duodenal|anus|anal|anal canal|anorectal|perianal',
  ],
  [
    'BRAIN',
    'brain|brains|cerebral|cerebrum|cerebral hemisphere|cerebral cortex|cerebellum|cerebellar|brainstem|brain stem|central nervous system|cns|spinal cord|ventral horn of spinal cord|meninges|meningeal|meninx|leptomeninx|leptomeningeal|pineal|pineal body|pituitary|pituitary gland|neurohypophysis|sellar|brain ventricle|third ventricle|telencephalic ventricle|choroid plexus|ependyma|diencephalon|hypothalamus|hypothalamic|thalamus|thalamic|temporal lobe|frontal lobe|intracranial|cranial cavity|posterior cranial fossa|corpus callosum|cauda equina|cranial nerve ii|optic nerve|neuron projection bundle connecting eye with brain',
  ],
  ['BREAST', 'breasts?|mammary|mammary gland|nipple'],
  [
    'CERVIX',
    'uterine cervix|cervix|cervix uteri|endocervix|endocervical|ectocervix|ectocervical|cervical(?! (?:lymph|spine|spinal|vertebra\\w*|ribs?|dystonia|myelopathy|spondyl\\w*|dis[ck]\\w*|radiculopathy|rib))',
  ],
  [
    'EYE',
    'eyes?|ocular|intraocular|orbit|orbital|orbital region|orbital cavity|eyelids?|conjunctiva|conjunctival|cornea|corneal|retina|retinal|vasculature of retina|uvea|uveal|iris|optic choroid|choroid|choroidal|ciliary body|lacrimal|lacrimal gland|sclera|scleral|vitreous|pupil|lens|eyelash',
  ],
  [
    'HEAD_NECK',
    'head and neck|oral cavity|mouth|oral|lips?|tongue|gingiva|gingival|gums?|palate|hard palate|soft palate|tonsils?|tonsillar|pharyngeal tonsil|pharynx|pharyngeal|nasopharynx|nasopharyngeal|oropharynx|oropharyngeal|hypopharynx|hypopharyngeal|larynx|laryngeal|glottis|glottic|subglottis|supraglottic|supraglottic part of larynx|salivary|salivary glands?|saliva secreting gland|parotid|parotid gland|submandibular|sublingual|sinonasal|nasal|nasal cavity|nose|paranasal sinus|maxillary sinus|ethmoid sinus|sphenoidal sinus|frontal sinus|throat|ear|middle ear|external ear|internal ear|external acoustic meatus|teeth|tooth|calcareous tooth|dental|odontogenic|jaw|mandible|mandibular|maxilla|maxillary|parathyroid|parathyroid glands?',
  ],
  [
    'KIDNEY',
    'kidneys?|renal|renal system|renal glomerulus|glomerular|renal medulla|renal cortex|renal tubules?|collecting duct of renal tubule|nephron',
  ],
  ['LIVER', 'liver|hepatic|hepatocellular|hepatobiliary'],
  [
    'LUNG',
    'lungs?|pulmonary|bronchus|bronchi|bronchial|bronchiole|bronchiolar|bronchioloalveolar|alveolus of lung|lung hilus|trachea|tracheal|respiratory tract|respiratory system|lower respiratory tract|pleuropulmonary',
  ],
  ['LYMPH', 'lymph nodes?|lymphatic|lymphoid tissue|spleen|splenic|nodal'],
  [
    'MYELOID',
    'bone marrow|blood|peripheral blood|eosinophils?|basophils?|neutrophils?|leukocytes?|platelets?|erythrocytes?',
  ],
  ['OVARY', 'ovary|ovaries|ovarian|fallopian tubes?|rete ovarii|adnexa|adnexal'],
  ['PANCREAS', 'pancreas|pancreatic|pancreatic duct|exocrine pancreas|islets? of langerhans|islet cell'],
  ['PENIS', 'penis|penile|glans penis|foreskin|prepuce'],
  ['PERITONEUM', 'peritoneum|peritoneal|peritoneal cavity|omentum|omental|mesentery|mesenteric'],
  ['PLEURA', 'pleura|pleural|pleural cavity'],
  [
    'PNS',
    'peripheral nervous system|peripheral nerves?|nerve sheath|nerves?|spinal nerve roots?|sensory nerve|femoral nerve|facial nerve|vestibulocochlear nerve|acoustic nerve|glossopharyngeal nerve|oculomotor nerve|sympathetic nervous system|autonomic nervous system',
  ],
  ['PROSTATE', 'prostate|prostate gland|prostatic|seminal vesicles?'],
  [
    'SKIN',
    'skin|skin of body|zone of skin|cutaneous|epidermis|skin epidermis|epidermal|stratum corneum of epidermis|dermis|dermal|hypodermis|subcutaneous|subcutis|hair|hairs|strand of hair|cuticle of hair|hair of head|hair follicles?|nails?|sweat glands?|sebaceous|sebaceous glands?|eccrine|apocrine|scalp|perianal skin|axilla skin|inguinal region skin|scrotum|scrotal|eyebrow',
  ],
  [
    'SOFT_TISSUE',
    'soft tissues?|connective tissue|adipose tissue|fat|muscle tissue|skeletal muscle|skeletal muscle tissue|smooth muscle|muscles?|muscle of leg|tibialis anterior|blood vessels?|vascular system|vasculature|arteries|artery|arterial|veins?|venous|aorta|aortic|anterior vena cava|portal vein|femoral vein|superior mesenteric artery|heart|cardiac|myocardium|cardiac muscle tissue|pericardium|pericardial|endocardium|epicardium|tendons?|tendon sheath|fascia|superficial fascia|ligaments?|synovial|synovium|layer of synovial tissue|joints?|skeletal joint|articulation|chest wall|retroperitoneum|retroperitoneal',
  ],
  [
    'STOMACH',
    'stomach|gastric|esophagus|esophageal|oesophagus|oesophageal|esophagogastric|esophagogastric junction|gastroesophageal|gastro esophageal|cardia of stomach|gastric cardia|pylorus|pyloric|fundus of stomach|body of stomach',
  ],
  ['TESTIS', 'testis|testes|testicle|testicular|rete testis|epididymis|epididymal|spermatic cord'],
  ['THYMUS', 'thymus|thymic'],
  ['THYROID', 'thyroid|thyroid gland'],
  [
    'UTERUS',
    'uterus|uterine|body of uterus|corpus uteri|uterine corpus|endometrium|endometrial|myometrium|myometrial|uterine ligament|placenta|placental|gestational|trophoblastic',
  ],
  [
    'VULVA',
    'vulva|vulvar|mammalian vulva|vagina|vaginal|labium|labia|labium majora|major vestibular glands?|bartholin|clitoris|clitoral',
  ],
];

/**
 * Lineage words: tumour families that OncoTree files under one tissue whatever the site
 * (lymphomas under Lymphoid, mast-cell disease under Myeloid, melanoma under Skin). Used only for a
 * disease that neither a location, a site word nor an ancestor placed.
 */
const LINEAGES: readonly (readonly [string, string])[] = [
  [
    'LYMPH',
    'lymphomas?|lymphoid|lymphoblastic|lymphocytic|lymphoproliferative|plasma cell|plasmacytoma|myeloma|hodgkin\\w*|b cell|t cell|nk cell',
  ],
  [
    'MYELOID',
    'myeloid|myelogenous|myelodysplastic|myeloproliferative|leukemias?|leukaemias?|mast cell|mastocytosis|histiocytic|histiocytosis|erythroleukemia|megakaryoblastic|myelofibrosis|polycythemia|thrombocythemia',
  ],
  [
    'SKIN',
    'melanomas?|melanocytic|nevus|nevi|naevus|keratosis|keratoacanthomas?|acanthomas?|basal cell carcinomas?|basal cell epithelioma',
  ],
  ['BLADDER', 'transitional cell carcinomas?|urothelial carcinomas?'],
  [
    'SOFT_TISSUE',
    'sarcomas?|lipomas?|liposarcomas?|leiomyomas?|leiomyosarcomas?|rhabdomyo\\w*|hemangio\\w*|angio\\w*|fibromatosis|fibromas?|fibrous histiocytomas?|myxomas?|paragangliomas?|glomus tumou?rs?|glomangio\\w*',
  ],
  ['PLEURA', 'mesotheliomas?'],
  ['THYMUS', 'thymomas?'],
  [
    'BRAIN',
    'gliomas?|glioblastomas?|astrocytomas?|oligodendrogliomas?|ependymomas?|meningiomas?|medulloblastomas?',
  ],
  ['PNS', 'neuroblastomas?|ganglioneuro\\w*|schwannomas?|neurofibromas?'],
];

export interface AnatomyMatch {
  tissue: string;
  /** The words that matched, for provenance. */
  term: string;
}

class Lexicon {
  private readonly patterns: { tissue: string; re: RegExp }[];
  constructor(entries: readonly (readonly [string, string])[]) {
    this.patterns = entries.map(([tissue, words]) => ({
      tissue,
      re: new RegExp(`(?<![a-z0-9])(?:${words})(?![a-z0-9])`, 'g'),
    }));
  }
  /** The earliest mention in the text wins, and the longest at one position ("renal pelvis" over "renal"). */
  match(text: string, allowed?: ReadonlySet<string>): AnatomyMatch | undefined {
    const key = textKey(text);
    let best: { start: number; length: number; tissue: string; term: string } | undefined;
    for (const { tissue, re } of this.patterns) {
      if (allowed && !allowed.has(tissue)) continue;
      re.lastIndex = 0;
      for (let m = re.exec(key); m; m = re.exec(key)) {
        const start = m.index;
        const length = m[0].length;
        if (!best || start < best.start || (start === best.start && length > best.length)) {
          best = { start, length, tissue, term: m[0] };
        }
      }
    }
    return best ? { tissue: best.tissue, term: best.term } : undefined;
  }
}

const sites = new Lexicon(SITES);
const lineages = new Lexicon(LINEAGES);

/** Tissue of an anatomy label or a disease name by the site words it contains. */
export function siteTissue(text: string, allowed?: ReadonlySet<string>): AnatomyMatch | undefined {
  return sites.match(text, allowed);
}

/** Tissue implied by a tumour-family word in a disease name. */
export function lineageTissue(text: string, allowed?: ReadonlySet<string>): AnatomyMatch | undefined {
  return lineages.match(text, allowed);
}

/** The tissue codes the tables use; the builder checks them against the OncoTree release it reads. */
export function lexiconTissues(): string[] {
  return [...new Set([...SITES, ...LINEAGES].map(([t]) => t))].sort();
}
