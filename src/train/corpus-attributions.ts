// Where the files of ../shared/data/corpus/ come from and under which licence (from that folder's
// README), so a model trained on them carries its attributions in its manifest. Files not listed
// here are the user's own; their licence is recorded as unknown.
export interface Attribution {
  source: string;
  origin: string;
  licence: string;
  note?: string;
}

export const CORPUS_ATTRIBUTIONS: Readonly<Record<string, Attribution>> = {
  'nci-cancer-gov.txt.gz': {
    source: 'cancer.gov pages (cancer types, PDQ summaries, the NCI dictionary)',
    origin: 'github.com/gautamgauri/suchi-cancer-bot @9d13739 suchi_phase1_pack/kb/en/02_nci_core/',
    licence: 'US Government work, public domain',
    note: 'PDQ text may be reused; do not present it as PDQ unless whole and current',
  },
  'medquad-answers.txt.gz': {
    source: "MedQuAD's answers (NIH sites), Ben Abacha & Demner-Fushman, 2019",
    origin: 'github.com/abachaa/MedQuAD @577bd37',
    licence: 'CC BY 4.0',
  },
  'openstax-anatomy-physiology-2e.txt.gz': {
    source: 'OpenStax, Anatomy and Physiology 2e (Rice University)',
    origin: 'github.com/openstax/osbooks-anatomy-physiology @b0058a7',
    licence: 'CC BY 4.0',
  },
  'openstax-biology-2e.txt.gz': {
    source: 'OpenStax, Biology 2e (Rice University)',
    origin: 'github.com/cnx-user-books/cnxbook-biology-2e @dc0170c',
    licence: 'CC BY 4.0',
  },
  'openstax-microbiology.txt.gz': {
    source: 'OpenStax, Microbiology (Rice University)',
    origin: 'github.com/openstax/osbooks-microbiology @ecf34da',
    licence: 'CC BY 4.0',
  },
  'cell-ontology-definitions.txt.gz': {
    source: 'Cell Ontology text definitions',
    origin: 'github.com/obophenotype/cell-ontology @fd61b954',
    licence: 'CC BY 4.0',
  },
  'uberon-definitions.txt.gz': {
    source: 'Uberon text definitions',
    origin: 'github.com/obophenotype/uberon @52817eea',
    licence: 'CC BY 3.0',
  },
};

export function attributionOf(fileName: string): Attribution {
  return (
    CORPUS_ATTRIBUTIONS[fileName] ?? {
      source: fileName,
      origin: 'supplied by the user',
      licence: 'unknown (not one of the shared corpus files; check before redistributing the model)',
    }
  );
}
