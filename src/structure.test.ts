// Two structural rules of the guide, measured on the source: no import circle in src/ (a value
// import in both directions makes module initialisation order matter), and no function over 150
// lines (the pickle interpreter's opcode switch is the one exception: one case per opcode).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const SRC = new URL('.', import.meta.url).pathname;
const MAX_LINES = 150;
const EXEMPT = new Set(['weights/pickle.ts:unpickle']);

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function parse(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
}

/** Relative imports that load a module at run time (type-only imports do not). */
function valueImports(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  for (const s of sf.statements) {
    if (!(ts.isImportDeclaration(s) || ts.isExportDeclaration(s))) continue;
    const spec = s.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
    if (ts.isImportDeclaration(s) && s.importClause?.isTypeOnly) continue;
    if (ts.isExportDeclaration(s) && s.isTypeOnly) continue;
    out.push(resolve(dirname(sf.fileName), spec.text));
  }
  return out;
}

test('no import circle in src/', () => {
  const graph = new Map(sources(SRC).map((f) => [resolve(f), valueImports(parse(f))]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const circles: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open')
        circles.push(
          stack
            .slice(stack.indexOf(d))
            .map((p) => relative(SRC, p))
            .join(' → '),
        );
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  assert.deepEqual(circles, []);
});

test(`no function in src/ over ${MAX_LINES} lines`, () => {
  const long: string[] = [];
  for (const f of sources(SRC)) {
    const sf = parse(f);
    const visit = (n: ts.Node): void => {
      if (ts.isFunctionLike(n) && 'body' in n && n.body) {
        const lines =
          sf.getLineAndCharacterOfPosition(n.getEnd()).line -
          sf.getLineAndCharacterOfPosition(n.getStart()).line +
          1;
        const name =
          'name' in n && n.name
            ? n.name.getText(sf)
            : `(anonymous at line ${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1})`;
        const key = `${relative(SRC, f)}:${name}`;
        if (lines > MAX_LINES && !EXEMPT.has(key)) long.push(`${key} (${lines} lines)`);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  assert.deepEqual(long, []);
});
