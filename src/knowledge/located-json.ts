// A strict JSON reader that remembers where every object, array and member came from. JSON.parse
// reports only a character offset and no field; source files (OncoTree trees, users' imports) need
// errors such as "file:480:20: field "DOID:0050174.children": trailing comma", and later checks
// (an unknown tissue, a bad record) need the line of the value they reject.
import { SourceError, lineColumnAt, lineIndex } from './errors.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface LocatedJson {
  value: JsonValue;
  file: string;
  /** Line and column of an object or array (its opening bracket) or of one of an object's members. */
  where(container: object, key?: string): { line: number; column: number };
}

class Parser {
  private pos = 0;
  readonly offsets = new WeakMap<object, number>();
  readonly memberOffsets = new WeakMap<object, Map<string, number>>();

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  parseDocument(): JsonValue {
    // A UTF-8 byte-order mark is not JSON but some editors write one; it carries no meaning.
    if (this.text.charCodeAt(0) === 0xfeff) this.pos = 1;
    this.ws();
    const v = this.value([]);
    this.ws();
    if (this.pos < this.text.length)
      this.fail(this.pos, [], `unexpected ${this.describe(this.pos)} after the end`);
    return v;
  }

  private fail(offset: number, path: readonly (string | number)[], reason: string): never {
    const { line, column } = lineColumnAt(this.text, offset);
    throw new SourceError({ file: this.file, line, column, field: pathText(path) }, reason);
  }

  private describe(offset: number): string {
    if (offset >= this.text.length) return 'end of file';
    return `'${this.text[offset]}'`;
  }

  private ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++;
      else break;
    }
  }

  private value(path: (string | number)[]): JsonValue {
    const c = this.text[this.pos];
    if (c === '{') return this.object(path);
    if (c === '[') return this.array(path);
    if (c === '"') return this.string(path);
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number(path);
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    return this.fail(this.pos, path, `expected a value, found ${this.describe(this.pos)}`);
  }

  private object(path: (string | number)[]): JsonValue {
    const obj: { [key: string]: JsonValue } = {};
    const members = new Map<string, number>();
    this.offsets.set(obj, this.pos);
    this.memberOffsets.set(obj, members);
    this.pos++;
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return obj;
    }
    let lastKey: string | undefined;
    for (;;) {
      if (this.text[this.pos] !== '"') {
        this.fail(
          this.pos,
          lastKey === undefined ? path : [...path, lastKey],
          `expected a member name in double quotes, found ${this.describe(this.pos)}`,
        );
      }
      const keyAt = this.pos;
      const key = this.string(path);
      this.ws();
      if (this.text[this.pos] !== ':')
        this.fail(this.pos, [...path, key], `expected ':' after the member name`);
      this.pos++;
      this.ws();
      const v = this.value([...path, key]);
      // Own-property assignment keeps "__proto__" an ordinary member, as JSON.parse does.
      Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      members.set(key, keyAt);
      lastKey = key;
      this.ws();
      const c = this.text[this.pos];
      if (c === '}') {
        this.pos++;
        return obj;
      }
      if (c !== ',')
        this.fail(this.pos, [...path, key], `expected ',' or '}', found ${this.describe(this.pos)}`);
      const commaAt = this.pos;
      this.pos++;
      this.ws();
      if (this.text[this.pos] === '}')
        this.fail(commaAt, [...path, key], `trailing comma before '}' (JSON allows none)`);
    }
  }

  private array(path: (string | number)[]): JsonValue {
    const arr: JsonValue[] = [];
    this.offsets.set(arr, this.pos);
    this.pos++;
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return arr;
    }
    for (;;) {
      arr.push(this.value([...path, arr.length]));
      this.ws();
      const c = this.text[this.pos];
      if (c === ']') {
        this.pos++;
        return arr;
      }
      if (c !== ',')
        this.fail(
          this.pos,
          [...path, arr.length - 1],
          `expected ',' or ']', found ${this.describe(this.pos)}`,
        );
      const commaAt = this.pos;
      this.pos++;
      this.ws();
      if (this.text[this.pos] === ']')
        this.fail(commaAt, [...path, arr.length - 1], `trailing comma before ']' (JSON allows none)`);
    }
  }

  private string(path: (string | number)[]): string {
    const start = this.pos;
    const t = this.text;
    let i = this.pos + 1;
    let out = '';
    let runStart = i;
    for (;;) {
      if (i >= t.length) this.fail(start, path, 'unterminated string');
      const c = t.charCodeAt(i);
      if (c === 34) break;
      if (c < 32) this.fail(i, path, 'control character inside a string (escape it)');
      if (c === 92) {
        out += t.slice(runStart, i);
        const e = t[i + 1];
        const simple: Record<string, string> = {
          '"': '"',
          '\\': '\\',
          '/': '/',
          b: '\b',
          f: '\f',
          n: '\n',
          r: '\r',
          t: '\t',
        };
        if (e !== undefined && e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(t.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          this.fail(i, path, `bad escape '\\${e ?? ''}' in a string`);
        }
        runStart = i;
        continue;
      }
      i++;
    }
    out += t.slice(runStart, i);
    this.pos = i + 1;
    return out;
  }

  private number(path: (string | number)[]): number {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos, this.pos + 64));
    if (!m) return this.fail(this.pos, path, `malformed number`);
    this.pos += m[0].length;
    return Number(m[0]);
  }
}

export function pathText(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(document)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export function parseLocatedJson(text: string, file: string): LocatedJson {
  const parser = new Parser(text, file);
  const value = parser.parseDocument();
  let index: ((offset: number) => { line: number; column: number }) | undefined;
  return {
    value,
    file,
    where(container: object, key?: string) {
      const offset =
        key !== undefined
          ? (parser.memberOffsets.get(container)?.get(key) ?? parser.offsets.get(container))
          : parser.offsets.get(container);
      if (offset === undefined) return { line: 0, column: 0 };
      index ??= lineIndex(text);
      return index(offset);
    },
  };
}
