// Readers for the Disease Ontology's tabular reports: HumanDO.tsv (every current term with its
// asserted parent, by label) and NCIinDO.tsv (DOID to NCI Thesaurus codes).
import { SourceError } from './errors.ts';
import { parseTsv } from './tsv.ts';

const DOID = /^DOID:\d+$/;

export interface HumanDoRow {
  id: string;
  label: string;
  /** The parent's label; the report names parents by label, and a root has none. */
  parentLabel: string;
  line: number;
}

function doidField(fields: Record<string, string | undefined>, file: string, line: number): string {
  const id = fields['id'] ?? '';
  if (!DOID.test(id))
    throw new SourceError(
      { file, line, field: 'id' },
      `expected a DOID such as DOID:162, found ${JSON.stringify(id)}`,
    );
  return id;
}

export function readHumanDoTsv(text: string, file: string): HumanDoRow[] {
  const table = parseTsv(text, file, ['id', 'label', 'subClassOf']);
  return table.rows.map(({ line, fields }) => {
    const id = doidField(fields, file, line);
    const label = fields['label'] ?? '';
    if (label === '') throw new SourceError({ file, line, field: 'label' }, `${id} has an empty label`);
    return { id, label, parentLabel: fields['subClassOf'] ?? '', line };
  });
}

export interface NciInDoRow {
  id: string;
  label: string;
  ncit: string[];
  line: number;
}

export function readNciInDoTsv(text: string, file: string): NciInDoRow[] {
  const table = parseTsv(text, file, ['id', 'label', 'xrefs']);
  return table.rows.map(({ line, fields }) => {
    const id = doidField(fields, file, line);
    const ncit = (fields['xrefs'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((x) => {
        const m = /^NCI:(C\d+)$/.exec(x);
        if (!m?.[1])
          throw new SourceError(
            { file, line, field: 'xrefs' },
            `expected NCI:C<digits>, found ${JSON.stringify(x)}`,
          );
        return m[1];
      });
    return { id, label: fields['label'] ?? '', ncit, line };
  });
}
