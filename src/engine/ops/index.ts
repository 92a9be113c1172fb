export * from './elementwise.ts';
export * from './shape-ops.ts';
export * from './reduce.ts';
export * from './nn.ts';
export type { Operand } from './common.ts';
