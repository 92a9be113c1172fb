// Prints the lexical baselines on a knowledge tree built from a sources directory, as tables and JSON:
// the figures quoted in docs/evaluation.md.
//   node --import tsx scripts/baseline-figures.ts [SOURCES_DIR] [--seed N]
import { buildTree } from '../src/knowledge/build.ts';
import { samples } from '../src/knowledge/export.ts';
import { buildGalleries, evaluateLexical } from '../src/eval/galleries.ts';
import { formatReidTable } from '../src/eval/table.ts';

const args = process.argv.slice(2);
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : 0;
if (!Number.isInteger(seed)) throw new Error(`--seed: expected an integer, got ${args[seedAt + 1]}`);
const dir =
  args.find((a, i) => !a.startsWith('--') && (seedAt < 0 || i !== seedAt + 1)) ?? '../shared/data/knowledge';

const sets = buildGalleries([...samples(buildTree(dir))], { seed });
const bm25 = evaluateLexical(sets);
const tfidf = evaluateLexical(sets, { method: 'tfidf' });
process.stdout.write(`queries: ${sets.queries.texts.length} names; gallery sizes: `);
process.stdout.write(sets.galleries.map((g) => `${g.kind} ${g.texts.length}`).join(', ') + '\n\n');
process.stdout.write(formatReidTable({ baseline: bm25 }, 'BM25') + '\n');
process.stdout.write(formatReidTable({ baseline: tfidf }, 'TF-IDF') + '\n');
process.stdout.write(JSON.stringify({ bm25, tfidf }) + '\n');
