// Hostile and careless inputs to the model commands, through the real command line
// (docs/weights.md and docs/reliability.md): archives that would inflate past any sane size, a
// pickle that tries to run a program, a batch whose every image is unreadable, a thread count typo,
// an output under a file, an overlong text.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crc32, deflateRawSync } from 'node:zlib';
import { expectKep, expectUnchanged, kep } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-reliability-inputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A zip of one entry (stored or deflated), written by hand: what torch.save's archive looks like. */
function zipOf(name: string, data: Uint8Array, deflate: boolean): Buffer {
  const body = deflate ? deflateRawSync(data, { level: 9 }) : Buffer.from(data);
  const fname = Buffer.from(name);
  const common = (b: Buffer, at: number): void => {
    b.writeUInt16LE(20, at); // version needed
    b.writeUInt16LE(0, at + 2); // flags
    b.writeUInt16LE(deflate ? 8 : 0, at + 4);
    b.writeUInt32LE(0, at + 6); // time, date
    b.writeUInt32LE(crc32(data) >>> 0, at + 10);
    b.writeUInt32LE(body.length, at + 14);
    b.writeUInt32LE(data.length, at + 18);
    b.writeUInt16LE(fname.length, at + 22);
    b.writeUInt16LE(0, at + 24); // extra
  };
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  common(local, 4);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4); // version made by
  common(central, 6);
  // comment length, disk, internal/external attributes: 0; local header offset 0.
  const cdStart = local.length + fname.length + body.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fname.length, 12);
  end.writeUInt32LE(cdStart, 16);
  return Buffer.concat([local, fname, body, central, fname, end]);
}

const exportOnnx = (weights: string, out: string): ReturnType<typeof kep> =>
  kep(['export', 'onnx', '--model', 'kep-tiny', '--weights', weights, '--key-map', 'kep', '--out', out]);

test('a .pt whose data.pkl would inflate 64 MiB from a few KiB is refused before inflating', () => {
  const bomb = join(dir, 'bomb.pt');
  writeFileSync(bomb, zipOf('archive/data.pkl', new Uint8Array(64 * 2 ** 20), true));
  const out = join(dir, 'bomb-out');
  const r = exportOnnx(bomb, out);
  expectKep(r, {
    status: 1,
    stderr:
      /bomb\.pt: refusing to inflate archive entry archive\/data\.pkl: it declares 64\.0 MiB .* nothing was inflated/,
  });
});

test('a pickle importing subprocess.Popen under its Python 2 name is called a code-execution attempt, with no advice to allow it', () => {
  const evil = join(dir, 'evil.pt');
  // Protocol 2: GLOBAL "commands Popen", the way Python 3 writes subprocess.Popen with fix_imports.
  const pkl = Buffer.concat([Buffer.from([0x80, 2]), Buffer.from('ccommands\nPopen\n(S"id"\ntR.', 'latin1')]);
  writeFileSync(evil, zipOf('archive/data.pkl', pkl, false));
  const r = exportOnnx(evil, join(dir, 'evil-out'));
  expectKep(r, {
    status: 1,
    stderr:
      /evil\.pt: refusing to load: the pickle imports subprocess\.Popen \(written as commands\.Popen\), a code-execution attempt/,
  });
  assert.doesNotMatch(r.stderr, /inert|allow-list/);
});

test('embed images whose every input is unreadable exits 1 and leaves the earlier output untouched', () => {
  const folder = join(dir, 'embed');
  const out = join(folder, 'images.safetensors');
  writeFileSync(join(dir, 'a.png'), 'not an image');
  expectKep(kep(['embed', 'texts', 'a red cell', '--model', 'kep-tiny', '--out', out]), { status: 0 });
  const r = expectUnchanged(folder, () =>
    kep([
      'embed',
      'images',
      join(dir, 'a.png'),
      join(dir, 'missing.png'),
      '--model',
      'kep-tiny',
      '--out',
      out,
    ]),
  );
  expectKep(r, {
    status: 1,
    stderr: [/unreadable: .*a\.png/, /every one of the 2 images failed; nothing written/],
  });
});

test('classify exits 1 when every image failed', () => {
  const r = kep([
    'classify',
    join(dir, 'missing.png'),
    '--model',
    'kep-tiny',
    '--classes',
    'red, blue',
    '--no-tree',
  ]);
  expectKep(r, {
    status: 1,
    stderr: /every one of the 1 images failed; nothing written \(first: .*missing\.png/,
  });
});

test('--workers 1000 is capped to the cores, said once', () => {
  const r = kep([
    'embed',
    'texts',
    'x',
    '--model',
    'kep-tiny',
    '--out',
    join(dir, 't.safetensors'),
    '--threads',
    '1000',
  ]);
  expectKep(r, { status: 0, stderr: /--threads 1000 is more than the \d+ cores of this machine: using \d+/ });
  const w = kep([
    'classify',
    join(dir, 'a.png'),
    '--model',
    'kep-tiny',
    '--classes',
    'red',
    '--no-tree',
    '--workers',
    '1000',
  ]);
  expectKep(w, { status: 1, stderr: /--workers 1000 is more than the \d+ cores/ });
});

test('an output under a file says which path is in the way, not a bare ENOTDIR', () => {
  writeFileSync(join(dir, 'plain-file'), 'x');
  const r = kep([
    'embed',
    'texts',
    'x',
    '--model',
    'kep-tiny',
    '--out',
    join(dir, 'plain-file', 'sub', 'e.safetensors'),
  ]);
  expectKep(r, {
    status: 1,
    stderr: /sub: cannot create the folder: .*plain-file: not a folder \(ENOTDIR\)/,
  });
});

test('a text of 200 000 characters is refused with where it came from', () => {
  const list = join(dir, 'texts.txt');
  writeFileSync(list, `short\n${'a'.repeat(200_000)}\n`);
  const r = kep([
    'embed',
    'texts',
    '--list',
    list,
    '--model',
    'kep-tiny',
    '--out',
    join(dir, 'long.safetensors'),
  ]);
  expectKep(r, { status: 1, stderr: /texts\.txt: text 2: 200000 characters; at most 100000/ });
});
