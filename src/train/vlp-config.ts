// The settings of S2 (`kep train vlp`), checked at the boundary (command line and --config files).
import { z } from 'zod';
import { MAX_IMAGE_SIZE } from '../data/preprocess.ts';

export const vlpConfigSchema = z.strictObject({
  /** A KEP registry model: its image tower (and its text tower when no S1 encoder is given). */
  model: z.string().default('kep-16'),
  /** Train (and evaluate) at this image size instead of the registry's (ViT towers only). */
  imageSize: z
    .number()
    .int()
    .min(8)
    .max(MAX_IMAGE_SIZE, `at most ${MAX_IMAGE_SIZE} px (memory grows with the square of the side)`)
    .optional(),
  loss: z.enum(['kep', 'clip']).default('kep'),
  knowledgeWeight: z.number().min(0).default(0.3),
  batch: z.number().int().min(2).default(32),
  /** Split each batch into micro-batches of this size (GradCache); default: the whole batch. */
  microBatch: z.number().int().positive().optional(),
  /**
   * Activation checkpointing per transformer block (src/engine/autodiff.ts): the backward pass
   * recomputes each block's activations instead of keeping them. 'auto': on for a whole-batch
   * (fused) step — a KEP-16 step at batch 32 needs 9.3 GiB with it and was killed at 24 GiB without
   * (BENCHMARKS.md) — and off with micro-batches, which already bound the memory.
   */
  recompute: z.enum(['auto', 'none', 'blocks']).default('auto'),
  epochs: z.number().positive().default(30),
  /** Optimiser steps of the run (default: epochs × batches per epoch). */
  steps: z.number().int().positive().optional(),
  /** Epochs with the image backbone and the whole text tower frozen (image head and scale train). */
  freezeEpochs: z.number().min(0).default(2),
  lr: z.number().positive().default(1e-5),
  minLr: z.number().min(0).default(0),
  warmup: z.number().int().nonnegative().default(3000),
  weightDecay: z.number().nonnegative().default(0.2),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.98),
  eps: z.number().positive().default(1e-6),
  /** The logit scale is clamped to at most this after every step. */
  maxScale: z.number().positive().default(100),
  /**
   * Text pooling. An S1 encoder brings its own. A text tower from random weights defaults to 'mean':
   * with [CLS] pooling a random BERT gives nearly the same vector for every caption (measured:
   * cosine 0.99999 between captions of kep-tiny), the contrastive loss sits at ln(batch), and
   * training collapses instead of learning.
   */
  pooling: z.enum(['cls', 'mean']).optional(),
  /** Text-tower dropout; must be 0 with micro-batches (see the file comment). */
  dropout: z.number().min(0).max(0.9).default(0),
  /** Token limit (default: the S1 encoder's, else the registry model's). */
  maxLength: z.number().int().min(8).optional(),
  /** Vocabulary size when a vocabulary is built from the captions (no S1 encoder). */
  vocabSize: z.number().int().min(200).default(8000),
  evalEvery: z.number().int().positive().default(500),
  checkpointEvery: z.number().int().positive().default(200),
  seed: z.number().int().default(0),
  threads: z.number().int().positive().optional(),
  /** Image-decoding worker threads (default: the loader's). */
  workers: z.number().int().nonnegative().optional(),
});
export type VlpConfig = z.infer<typeof vlpConfigSchema>;
