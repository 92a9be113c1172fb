// Swin Transformer (Liu et al. 2021) with timm's parameter names, and CTransPath (Wang et al. 2022):
// Swin-T whose patch embedding is a small convolutional stem, mean-pooled to a 768-d feature.
// Windows of `window` × `window` tokens attend within themselves with a learned relative position
// bias; every second block shifts the windows by half a window (a roll, expressed as Slice+Concat).
import { constOf, type Graph, type Tensor } from '../engine/graph.ts';
import { ones, truncNormal, zeros } from '../engine/init.ts';
import * as F from '../engine/ops/index.ts';
import { layerNorm, linear, vitLinearInit } from '../nn/layers.ts';

export interface SwinConfig {
  imageSize: number;
  patchSize: number;
  channels: number;
  embedDim: number;
  depths: number[];
  heads: number[];
  window: number;
  mlpRatio: number;
  eps: number;
  /** 'patch': a strided conv (Swin); 'conv-stem': CTransPath's conv–BN–ReLU stem. */
  stem: 'patch' | 'conv-stem';
}

const swinT: SwinConfig = {
  imageSize: 224,
  patchSize: 4,
  channels: 3,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  heads: [3, 6, 12, 24],
  window: 7,
  mlpRatio: 4,
  eps: 1e-5,
  stem: 'patch',
};

export const swinConfigs = {
  'swin-t': swinT,
  ctranspath: { ...swinT, stem: 'conv-stem' },
  /** A test-sized Swin with the conv stem: 32 px, two stages, window 2. */
  'swin-tiny-test': {
    ...swinT,
    imageSize: 32,
    embedDim: 16,
    depths: [2, 2],
    heads: [2, 4],
    window: 2,
    mlpRatio: 2,
    stem: 'conv-stem',
  },
} satisfies Record<string, SwinConfig>;

/** BatchNorm2d in inference mode; running statistics are frozen parameters under PyTorch's names. */
function batchNorm(g: Graph, name: string, x: Tensor, channels: number, eps = 1e-5): Tensor {
  return g.scope(name, () => {
    const shape = [1, channels, 1, 1];
    const w = F.reshape(g.param('weight', [channels], ones), shape);
    const b = F.reshape(g.param('bias', [channels], zeros), shape);
    const mean = F.reshape(g.param('running_mean', [channels], zeros, { trainable: false }), shape);
    const variance = g.param('running_var', [channels], ones, { trainable: false });
    const invStd = F.reshape(F.reciprocal(F.sqrt(F.add(variance, eps))), shape);
    return F.add(F.mul(F.mul(F.sub(x, mean), invStd), w), b);
  });
}

function conv(
  g: Graph,
  name: string,
  x: Tensor,
  cin: number,
  cout: number,
  k: number,
  stride: number,
  pad: number,
  bias: boolean,
): Tensor {
  return g.scope(name, () =>
    F.conv2d(
      x,
      g.param('weight', [cout, cin, k, k], truncNormal(0.02)),
      bias ? g.param('bias', [cout], zeros) : undefined,
      {
        stride: [stride, stride],
        padding: [pad, pad],
      },
    ),
  );
}

/** Patch embedding → tokens [B, H·W, C] (timm: patch_embed.proj …, patch_embed.norm). */
export function patchEmbed(g: Graph, x: Tensor, cfg: SwinConfig): Tensor {
  return g.scope('patch_embed', () => {
    const c = cfg.embedDim;
    let y: Tensor;
    if (cfg.stem === 'patch') y = conv(g, 'proj', x, cfg.channels, c, cfg.patchSize, cfg.patchSize, 0, true);
    else {
      // CTransPath's ConvStem: (Conv3×3 s2, BN, ReLU) × 2, then a 1×1 conv; Sequential indices 0..6.
      if (cfg.patchSize !== 4) throw new Error('the CTransPath conv stem needs patch size 4');
      y = g.scope('proj', () => {
        let h = F.relu(batchNorm(g, '1', conv(g, '0', x, cfg.channels, c / 8, 3, 2, 1, false), c / 8));
        h = F.relu(batchNorm(g, '4', conv(g, '3', h, c / 8, c / 4, 3, 2, 1, false), c / 4));
        return conv(g, '6', h, c / 4, c, 1, 1, 0, true);
      });
    }
    const side = cfg.imageSize / cfg.patchSize;
    const tokens = F.transpose(F.reshape(y, [x.shape[0]!, c, side * side]), [0, 2, 1]);
    return layerNorm(g, 'norm', tokens, c, cfg.eps);
  });
}

/** Roll [B, H, W, C] by `shift` along H and W (torch.roll with positive shift moves elements forward). */
function roll2d(x: Tensor, shift: number): Tensor {
  const rollAxis = (t: Tensor, axis: number): Tensor => {
    const n = t.shape[axis] as number;
    const s = ((shift % n) + n) % n;
    if (s === 0) return t;
    return F.concat(
      [F.slice(t, { axis, start: n - s, end: n }), F.slice(t, { axis, start: 0, end: n - s })],
      axis,
    );
  };
  return rollAxis(rollAxis(x, 1), 2);
}

/** Pairwise relative-position indices into the (2w−1)² bias table, as timm computes them. */
export function relativePositionIndex(w: number): number[] {
  const coords: [number, number][] = [];
  for (let i = 0; i < w; i++) for (let j = 0; j < w; j++) coords.push([i, j]);
  return coords.flatMap(([a, b]) => coords.map(([c, d]) => (a - c + w - 1) * (2 * w - 1) + (b - d + w - 1)));
}

/** The additive mask (0 or −100, as timm) that keeps shifted windows from mixing image regions. */
export function shiftedWindowMask(size: number, w: number, shift: number): Float32Array {
  const region = new Int32Array(size * size);
  const bounds = [0, size - w, size - shift, size];
  let cnt = 0;
  for (let hi = 0; hi < 3; hi++)
    for (let wi = 0; wi < 3; wi++) {
      for (let y = bounds[hi]!; y < bounds[hi + 1]!; y++)
        for (let x = bounds[wi]!; x < bounds[wi + 1]!; x++) region[y * size + x] = cnt;
      cnt++;
    }
  const nW = (size / w) ** 2;
  const n = w * w;
  const mask = new Float32Array(nW * n * n);
  for (let wy = 0; wy < size / w; wy++)
    for (let wx = 0; wx < size / w; wx++) {
      const win = wy * (size / w) + wx;
      const ids: number[] = [];
      for (let y = 0; y < w; y++)
        for (let x = 0; x < w; x++) ids.push(region[(wy * w + y) * size + wx * w + x]!);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) mask[(win * n + i) * n + j] = ids[i] === ids[j] ? 0 : -100;
    }
  return mask;
}

export function swinBlock(
  g: Graph,
  name: string,
  x: Tensor,
  size: number,
  dim: number,
  heads: number,
  window: number,
  shift: number,
  cfg: SwinConfig,
): Tensor {
  return g.scope(name, () => {
    const batch = x.shape[0]!;
    const n = window * window;
    const nW = (size / window) ** 2;
    const dh = dim / heads;
    let h = F.reshape(layerNorm(g, 'norm1', x, dim, cfg.eps), [batch, size, size, dim]);
    if (shift) h = roll2d(h, -shift);
    // Partition into windows: [B·nW, n, C].
    const g6 = F.reshape(h, [batch, size / window, window, size / window, window, dim]);
    const windows = F.reshape(F.transpose(g6, [0, 1, 3, 2, 4, 5]), [-1, n, dim]);
    const attended = g.scope('attn', () => {
      const qkv = linear(g, 'qkv', windows, dim, 3 * dim, vitLinearInit);
      const heads4 = (t: Tensor): Tensor => F.transpose(F.reshape(t, [-1, n, heads, dh]), [0, 2, 1, 3]);
      const [q, k, v] = F.split(qkv, -1, [dim, dim, dim]) as [Tensor, Tensor, Tensor];
      let scores = F.matmul(
        heads4(F.mul(q, 1 / Math.sqrt(dh))),
        F.transpose(F.reshape(k, [-1, n, heads, dh]), [0, 2, 3, 1]),
      );
      const table = g.param(
        'relative_position_bias_table',
        [(2 * window - 1) ** 2, heads],
        truncNormal(0.02),
      );
      const index = g.constant(
        constOf('int64', [n * n], relativePositionIndex(window)),
        'relative_position_index',
      );
      const bias = F.transpose(F.reshape(F.gather(table, index, 0), [n, n, heads]), [2, 0, 1]);
      scores = F.add(scores, F.unsqueeze(bias, [0]));
      if (shift) {
        const mask = g.constant(
          { dtype: 'float32', shape: [1, nW, 1, n, n], data: shiftedWindowMask(size, window, shift) },
          'attn_mask',
        );
        scores = F.reshape(F.add(F.reshape(scores, [-1, nW, heads, n, n]), mask), [-1, heads, n, n]);
      }
      const ctx = F.matmul(F.softmax(scores, -1), heads4(v));
      return linear(
        g,
        'proj',
        F.reshape(F.transpose(ctx, [0, 2, 1, 3]), [-1, n, dim]),
        dim,
        dim,
        vitLinearInit,
      );
    });
    // Reverse the partition and the shift.
    const merged = F.reshape(
      F.transpose(
        F.reshape(attended, [batch, size / window, size / window, window, window, dim]),
        [0, 1, 3, 2, 4, 5],
      ),
      [batch, size, size, dim],
    );
    const unshifted = shift ? roll2d(merged, shift) : merged;
    const x1 = F.add(x, F.reshape(unshifted, [batch, size * size, dim]));
    const hidden = dim * cfg.mlpRatio;
    const h2 = layerNorm(g, 'norm2', x1, dim, cfg.eps);
    const m = g.scope('mlp', () =>
      linear(g, 'fc2', F.gelu(linear(g, 'fc1', h2, dim, hidden, vitLinearInit)), hidden, dim, vitLinearInit),
    );
    return F.add(x1, m);
  });
}

/** 2×2 neighbourhoods concatenated (timm's order x0,x1,x2,x3), normalised, reduced to 2C. */
function patchMerging(g: Graph, x: Tensor, size: number, dim: number, eps: number): Tensor {
  return g.scope('downsample', () => {
    const batch = x.shape[0]!;
    const half = size / 2;
    // [B, H/2, 2(h), W/2, 2(w), C] → [B, H/2, W/2, w, h, C]: channel blocks ordered (h0w0, h1w0, h0w1, h1w1).
    const grid = F.reshape(x, [batch, half, 2, half, 2, dim]);
    const cat = F.reshape(F.transpose(grid, [0, 1, 3, 4, 2, 5]), [batch, half * half, 4 * dim]);
    return linear(g, 'reduction', layerNorm(g, 'norm', cat, 4 * dim, eps), 4 * dim, 2 * dim, {
      weight: truncNormal(0.02),
      bias: false,
    });
  });
}

/** Mean-pooled features [batch, C_last] after the final norm (CTransPath's 768-d output for Swin-T). */
export function swin(g: Graph, pixels: Tensor, cfg: SwinConfig): Tensor {
  let x = patchEmbed(g, pixels, cfg);
  let size = cfg.imageSize / cfg.patchSize;
  let dim = cfg.embedDim;
  cfg.depths.forEach((depth, i) => {
    g.scope(`layers.${i}`, () => {
      // timm: no shift when a window covers the whole feature map.
      const window = Math.min(cfg.window, size);
      const shift = size <= cfg.window ? 0 : Math.floor(window / 2);
      for (let j = 0; j < depth; j++)
        x = swinBlock(g, `blocks.${j}`, x, size, dim, cfg.heads[i]!, window, j % 2 ? shift : 0, cfg);
      if (i < cfg.depths.length - 1) {
        x = patchMerging(g, x, size, dim, cfg.eps);
        size /= 2;
        dim *= 2;
      }
    });
  });
  return F.reduceMean(layerNorm(g, 'norm', x, dim, cfg.eps), [1]);
}
