// Starting and stopping the server: reads the run folder, loads the knowledge tree and encoder when
// given, bundles the viewer, and listens. Off loopback a token is required: the one given, or a
// generated one that the caller prints.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createModel } from '../embed/model.ts';
import type { Precision } from '../engine/quantize.ts';
import { loadTree } from '../knowledge/tree-io.ts';
import { KnowledgeEncoder } from '../train/knowledge.ts';
import { buildApp } from './app.ts';
import { KnowledgeBrowser } from './knowledge-browser.ts';
import { readRunFolder } from './run-folder.ts';
import { type ModelLoader, modelSourceOf, SlideStore } from './slide-store.ts';
import { loadViewer } from './viewer-bundle.ts';

export interface ServeOptions {
  runDir: string;
  port?: number;
  host?: string;
  /** Registry name or model folder for text queries (default: the run's own model). */
  model?: string;
  /** Precision of the text tower (default: the precision the run embedded its patches at). */
  precision?: Precision;
  tree?: string;
  /** Knowledge encoder folder: knowledge search uses the hybrid linker. */
  encoder?: string;
  token?: string;
  loadModel?: ModelLoader;
}

export interface RunningServer {
  url: string;
  /** The token every request needs (undefined on loopback without --token). */
  token: string | undefined;
  /** Problems found in the run folder (the page shows them too). */
  problems: string[];
  close(): Promise<void>;
}

export const DEFAULT_PORT = 7410;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const token = o.token ?? (isLoopback(host) ? undefined : randomBytes(18).toString('base64url'));
  if (token !== undefined && !/^[\w-]{16,200}$/.test(token))
    throw new Error('--token: 16 to 200 letters, digits, - or _ (it travels in a URL and a cookie)');
  const port = o.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port ${port}: expected 0–65535`);
  const run = readRunFolder(resolve(o.runDir));
  const source = modelSourceOf(o.model, run, o.precision);
  const store = new SlideStore(run, source, o.loadModel ?? createModel);
  const knowledge = o.tree
    ? new KnowledgeBrowser(
        loadTree(o.tree),
        o.encoder ? await KnowledgeEncoder.load(resolve(o.encoder)) : undefined,
      )
    : undefined;
  if (o.encoder && !o.tree) throw new Error("--encoder needs --tree (the encoder ranks the tree's diseases)");
  const app = buildApp({
    store,
    viewer: await loadViewer(),
    ...(knowledge ? { knowledge } : {}),
    ...(token ? { token } : {}),
    ...(source
      ? { model: typeof source === 'string' ? source : (source.dir ?? source.name ?? 'a model') }
      : {}),
  });
  const address = await app.listen({ port, host });
  return {
    url: address,
    token,
    problems: run.problems,
    close: () => app.close(),
  };
}
