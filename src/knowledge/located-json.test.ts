import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseLocatedJson } from './located-json.ts';
import { sourceError } from './testing.ts';

const SHARED = fileURLToPath(new URL('../../../shared/data/knowledge/', import.meta.url));

describe('parseLocatedJson', () => {
  it('parses what JSON.parse parses, and knows where each value is', () => {
    const text = '{\n  "a": [1, 2.5e3, -0.5, true, null],\n  "b": {"c": "x\\u00e9\\n"}\n}';
    const j = parseLocatedJson(text, 'f.json');
    assert.deepEqual(j.value, JSON.parse(text));
    const root = j.value as { b: object };
    assert.deepEqual(j.where(root, 'b'), { line: 3, column: 3 });
    assert.deepEqual(j.where(root.b), { line: 3, column: 8 });
  });

  it('keeps "__proto__" as an ordinary member', () => {
    const v = parseLocatedJson('{"__proto__": {"x": 1}}', 'p.json').value as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), ['__proto__']);
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
  });

  it('names file, line, column and field of a trailing comma', () => {
    const e = sourceError(() => parseLocatedJson('{\n  "x": {\n    "children": [],\n  }\n}', 'g.json'));
    assert.equal(e.file, 'g.json');
    assert.equal(e.line, 3);
    assert.equal(e.column, 19);
    assert.equal(e.field, 'x.children');
    assert.match(e.message, /^g\.json:3:19: field "x\.children": trailing comma/);
  });

  it('reports the trailing comma in KEEP example_konwledge_graph.json', () => {
    const file = `${SHARED}example_konwledge_graph.json`;
    const e = sourceError(() => parseLocatedJson(readFileSync(file, 'utf8'), 'example_konwledge_graph.json'));
    assert.equal(e.line, 480);
    assert.equal(e.field, 'DOID:0050145.children');
    assert.match(e.reason, /trailing comma/);
  });

  it('reports unterminated strings, bad escapes, missing colons and junk after the end', () => {
    assert.match(
      sourceError(() => parseLocatedJson('{"a": "b', 'h.json')).message,
      /h\.json:1:7: field "a": unterminated string/,
    );
    assert.match(sourceError(() => parseLocatedJson('["\\x"]', 'h.json')).message, /bad escape/);
    assert.match(sourceError(() => parseLocatedJson('{"a" 1}', 'h.json')).message, /expected ':'/);
    assert.match(sourceError(() => parseLocatedJson('[1] 2', 'h.json')).message, /after the end/);
    assert.match(
      sourceError(() => parseLocatedJson('[1,]', 'h.json')).message,
      /field "\[0\]": trailing comma/,
    );
  });
});
