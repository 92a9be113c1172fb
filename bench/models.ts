// Patch-embedding throughput of the image towers, kep (ONNX Runtime) against PyTorch, batch 32, in
// one run on the same machine with the same thread count.
// Run: npm run bench:models [-- --threads 2 --iters 3 --batch 32]. The last line is one JSON object.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng, initialParameters, initialize } from '../src/engine/init.ts';
import { compile, ort } from '../src/engine/runtime.ts';
import { towerGraphs } from '../src/models/factory.ts';
import { getModel } from '../src/models/registry.ts';
import { fmt, runReference, time } from './lib/harness.ts';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    iters: { type: 'string', default: '3' },
    batch: { type: 'string', default: '32' },
  },
});
const [threads, iters, batch] = [Number(args.threads), Number(args.iters), Number(args.batch)];

/** Images per second through a registry model's image tower, built by the one factory. */
async function throughput(name: string): Promise<number> {
  const g = towerGraphs(getModel(name)).image!;
  const paramData = initialParameters(g.params.values());
  const session = await compile(g, { paramData }, { threads });
  const pixels = new ort.Tensor(
    'float32',
    initialize({ kind: 'normal', std: 1 }, batch * 3 * 224 * 224, new Rng(1, 'px')),
    [batch, 3, 224, 224],
  );
  const t = await time(() => session.run({ pixels }), iters);
  await session.release();
  return batch / t.median;
}

const reference = runReference(fileURLToPath(new URL('./models_torch.py', import.meta.url)), [
  '--threads',
  String(threads),
  '--iters',
  String(iters),
  '--batch',
  String(batch),
]);
process.stderr.write(`reference: ${JSON.stringify(reference)}\n`);
const vitIps = await throughput('vit-b-16');
const ctpIps = await throughput('ctranspath');
const tv = reference.vit_b16_img_s as number;
const tc = reference.ctranspath_img_s as number;
process.stderr.write(
  `ViT-B/16 batch ${batch}: kep ${fmt(vitIps, 3)} img/s, torch ${tv}, ratio ${fmt(vitIps / tv, 3)}\n`,
);
process.stderr.write(
  `CTransPath batch ${batch}: kep ${fmt(ctpIps, 3)} img/s, torch ${tc}, ratio ${fmt(ctpIps / tc, 3)}\n`,
);
console.log(
  JSON.stringify({
    threads,
    batch,
    vit_b16_img_s: Number(fmt(vitIps, 3)),
    torch_vit_b16_img_s: tv,
    vit_b16_ratio: Number(fmt(vitIps / tv, 3)),
    ctranspath_img_s: Number(fmt(ctpIps, 3)),
    torch_ctranspath_img_s: tc,
    ctranspath_ratio: Number(fmt(ctpIps / tc, 3)),
  }),
);
