// `kep knowledge …`: build the pathology knowledge tree from its sources, look into it, export it
// as training samples, compare two builds, add a user's own attributes.
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { linkText } from '../eval/link.ts';
import { KnowledgeEncoder } from '../train/knowledge.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { buildTree } from '../knowledge/build.ts';
import { diffTrees, formatDiff } from '../knowledge/diff.ts';
import { defaultCacheDir, downloadSources } from '../knowledge/download.ts';
import { EXPORT_FORMATS, exportChunks, type ExportFormat, samples } from '../knowledge/export.ts';
import {
  classNamesOfPromptFile,
  findDisease,
  formatDisease,
  formatStatsTable,
  type PromptSynonyms,
  promptSynonyms,
  searchTree,
  treeStats,
} from '../knowledge/query.ts';
import { ATTRIBUTE_KINDS, type AttributeKind, type KnowledgeTree } from '../knowledge/schema.ts';
import { loadTree, saveTree } from '../knowledge/tree-io.ts';
import { applyImport, readImportFile } from '../knowledge/user-import.ts';
import { positiveInt } from './arguments.ts';
import { commandGroup } from './groups.ts';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function kindList(v: string): AttributeKind[] {
  const kinds = v.split(',').map((s) => s.trim());
  for (const k of kinds) {
    if (!(ATTRIBUTE_KINDS as readonly string[]).includes(k))
      throw new InvalidArgumentError(`unknown kind ${k} (kinds: ${ATTRIBUTE_KINDS.join(', ')})`);
  }
  return kinds as AttributeKind[];
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function countsLine(tree: KnowledgeTree): string {
  const c = tree.build.counts;
  const total = ATTRIBUTE_KINDS.reduce((s, k) => s + c.attributes[k], 0);
  return `${c.tissues} tissues, ${c.diseases} diseases, ${total} attributes (${ATTRIBUTE_KINDS.map((k) => `${k} ${c.attributes[k]}`).join(', ')})`;
}

function withImports(
  tree: KnowledgeTree,
  files: string[],
  licence: string | undefined,
  skipUnknown: boolean,
): KnowledgeTree {
  let t = tree;
  for (const f of files) {
    const input = readImportFile(readFileSync(f), f);
    const { tree: next, report } = applyImport(t, input, { ...(licence ? { licence } : {}), skipUnknown });
    process.stderr.write(
      `imported ${f}: ${report.added} new attributes, ${report.merged} already present, ${report.skipped} skipped, ${report.createdDiseases.length} new diseases\n`,
    );
    t = next;
  }
  return t;
}

/** Replaces the word-search suggestions of unmatched classes by the encoder's nearest diseases, ranked
 * by the hybrid (or the encoder alone when the folder has no fitted weight), as `kep knowledge link`. */
async function suggestByEncoder(tree: KnowledgeTree, found: PromptSynonyms[], dir: string): Promise<void> {
  const unmatched = found.filter((p) => !p.disease);
  if (unmatched.length === 0) return;
  const candidates = [...samples(tree, ['name', 'synonym'])];
  const names = new Map([...samples(tree, ['name'])].map((s) => [s.label, s.text]));
  const encoder = await KnowledgeEncoder.load(resolve(dir));
  try {
    const ranker = encoder.hybrid.fitted ? 'hybrid' : 'dense';
    for (const p of unmatched) {
      const hits = await linkText(p.className, candidates, {
        ranker,
        top: 3,
        encode: (t) => encoder.embed(t),
        alpha: encoder.hybrid.alpha,
      });
      p.suggestions = hits.map((h) => ({
        id: h.label,
        name: names.get(h.label) ?? '',
        score: Number(h.score.toFixed(4)),
      }));
    }
  } finally {
    await encoder.release();
  }
}
/** What every part of registerKnowledgeCommands shares. */
function knowledgeCommandsSetup(program: Command) {
  const k = commandGroup(
    program,
    'knowledge',
    'the pathology knowledge tree: tissues → diseases → attributes',
  );
  return { program, k };
}
type KnowledgeCommandsContext = ReturnType<typeof knowledgeCommandsSetup>;

function knowledgeCommandsPart1(ctx: KnowledgeCommandsContext): void {
  const { k } = ctx;

  k.command('build')
    .description('build the tree from OncoTree and the Human Disease Ontology')
    .requiredOption('--out <file>', 'where to write the tree (JSON)')
    .option(
      '--sources <dir>',
      'local copy of the sources (layout of ../shared/data/knowledge); without it they are downloaded into the cache',
    )
    .option('--cache <dir>', 'download cache', defaultCacheDir())
    .option('--refresh', 'download the sources again even if cached', false)
    .option(
      '--import <file>',
      "add a user's own attributes (TSV or JSON, see docs/knowledge.md); repeatable",
      collect,
      [],
    )
    .option('--licence <licence>', 'licence of imported texts that name none')
    .option('--skip-unknown', 'skip imported records whose disease is not in the tree', false)
    .action(
      async (o: {
        out: string;
        sources?: string;
        cache: string;
        refresh: boolean;
        import: string[];
        licence?: string;
        skipUnknown: boolean;
      }) => {
        const started = performance.now();
        let dir = o.sources;
        if (!dir) {
          await downloadSources({ cacheDir: o.cache, refresh: o.refresh });
          dir = o.cache;
        }
        const tree = withImports(buildTree(dir), o.import, o.licence, o.skipUnknown);
        saveTree(o.out, tree);
        const seconds = (performance.now() - started) / 1000;
        out(`built ${o.out} in ${seconds.toFixed(1)} s: ${countsLine(tree)}`);
      },
    );

  k.command('download')
    .description('fetch the sources from their public origins into the cache')
    .option('--cache <dir>', 'download cache', defaultCacheDir())
    .option('--refresh', 'fetch again files already in the cache', false)
    .action(async (o: { cache: string; refresh: boolean }) => {
      const r = await downloadSources({ cacheDir: o.cache, refresh: o.refresh });
      out(
        `${o.cache}: ${r.fetched.length} fetched, ${r.cached.length} already cached, ${r.failed.length} optional files missing`,
      );
    });

  k.command('stats')
    .description('counts per tissue and attribute kind')
    .argument('<tree>', 'tree file')
    .option('--json', 'one JSON object', false)
    .action((file: string, o: { json: boolean }) => {
      const s = treeStats(loadTree(file));
      if (o.json) out(JSON.stringify(s));
      else out(formatStatsTable(s));
    });

  k.command('show')
    .description('one disease with all its attributes and their provenance')
    .argument('<tree>', 'tree file')
    .argument('<disease>', 'id, code (DOID:…, ONCOTREE:…, NCIT:…, UMLS:…) or name/synonym')
    .option('--json', 'as JSON', false)
    .action((file: string, ref: string, o: { json: boolean }) => {
      const tree = loadTree(file);
      const f = findDisease(tree, ref);
      if (typeof f === 'string') throw new Error(f);
      out(o.json ? JSON.stringify({ tissue: f.tissue, ...f.disease }, null, 2) : formatDisease(f, tree));
    });

  k.command('search')
    .description('diseases ranked by how well their texts match')
    .argument('<tree>', 'tree file')
    .argument('<text...>', 'words to look for')
    .option('--limit <n>', 'how many results', positiveInt, 10)
    .option('--json', 'as JSON', false)
    .action((file: string, words: string[], o: { limit: number; json: boolean }) => {
      const hits = searchTree(loadTree(file), words.join(' '), o.limit);
      if (o.json) out(JSON.stringify(hits));
      else
        out(
          hits.length
            ? hits
                .map(
                  (h, i) =>
                    `${String(i + 1).padStart(2)}. ${h.score.toFixed(2).padStart(7)}  ${h.id}  ${h.name} [${h.tissue}]  (${h.kind}: ${h.matched})`,
                )
                .join('\n')
            : 'no match',
        );
    });

  k.command('export')
    .description('samples for the knowledge encoder (jsonl, csv) or the diseases with their texts (json)')
    .argument('<tree>', 'tree file')
    .addOption(new Option('--format <format>', 'output format').choices([...EXPORT_FORMATS]).default('jsonl'))
    .option('--out <file>', 'output file (default: standard output)')
    .option('--kinds <kinds>', `comma-separated subset of ${ATTRIBUTE_KINDS.join(',')}`, kindList)
    .action((file: string, o: { format: ExportFormat; out?: string; kinds?: AttributeKind[] }) => {
      const chunks = exportChunks(loadTree(file), o.format, o.kinds ?? ATTRIBUTE_KINDS);
      if (o.out) writeFileAtomic(o.out, chunks);
      else for (const c of chunks) process.stdout.write(c);
    });
}

function knowledgeCommandsPart2(ctx: KnowledgeCommandsContext): void {
  const { k } = ctx;

  k.command('prompts')
    .description("the tree's synonyms for class names, for zero-shot prompt sets")
    .argument('<tree>', 'tree file')
    .argument('[classes...]', 'class names')
    .option('--from-prompts <file>', 'take the class names of a prompt file ({"0": {"classnames": …}})')
    .option('--max <n>', 'at most this many synonyms per class', positiveInt, 20)
    .option(
      '--encoder <dir>',
      'a `kep train knowledge` folder: classes the tree does not name get their closest diseases from it (hybrid with BM25 when fitted)',
    )
    .option('--json', 'as JSON', false)
    .action(
      async (
        file: string,
        classes: string[],
        o: { fromPrompts?: string; max: number; json: boolean; encoder?: string },
      ) => {
        const names = [
          ...classes,
          ...(o.fromPrompts ? classNamesOfPromptFile(JSON.parse(readFileSync(o.fromPrompts, 'utf8'))) : []),
        ];
        if (names.length === 0) throw new Error('give class names or --from-prompts');
        const tree = loadTree(file);
        const r = promptSynonyms(tree, names, o.max);
        if (o.encoder) await suggestByEncoder(tree, r, o.encoder);
        if (o.json) {
          out(JSON.stringify(r));
          return;
        }
        for (const p of r) {
          if (p.disease)
            out(
              `${p.className} → ${p.disease.id} [${p.disease.tissue}]: ${p.synonyms.join(' | ') || '(no synonyms)'}`,
            );
          else
            out(
              `${p.className} → ${p.match === 'ambiguous' ? 'several diseases' : 'no disease'}; closest: ${(p.suggestions ?? []).map((s) => `${s.id} ${s.name}`).join('; ') || 'none'}`,
            );
        }
      },
    );

  k.command('diff')
    .description('diseases and attributes added, removed or changed between two trees')
    .argument('<before>', 'older tree')
    .argument('<after>', 'newer tree')
    .option('--json', 'as JSON', false)
    .option('--limit <n>', 'list at most this many diseases per section', positiveInt, 50)
    .action((a: string, b: string, o: { json: boolean; limit: number }) => {
      const d = diffTrees(loadTree(a), loadTree(b));
      out(o.json ? JSON.stringify(d) : formatDiff(d, o.limit));
    });

  k.command('import')
    .description("add a user's own attributes to a built tree")
    .argument('<tree>', 'tree file')
    .argument('<files...>', 'TSV or JSON files (format in docs/knowledge.md)')
    .requiredOption('--out <file>', 'where to write the new tree')
    .option('--licence <licence>', 'licence of texts whose record names none')
    .option('--skip-unknown', 'skip records whose disease is not in the tree', false)
    .action((file: string, files: string[], o: { out: string; licence?: string; skipUnknown: boolean }) => {
      const tree = withImports(loadTree(file), files, o.licence, o.skipUnknown);
      saveTree(o.out, tree);
      out(`wrote ${o.out}: ${countsLine(tree)}`);
    });
}

export function registerKnowledgeCommands(program: Command): void {
  const ctx = knowledgeCommandsSetup(program);
  knowledgeCommandsPart1(ctx);
  knowledgeCommandsPart2(ctx);
}
