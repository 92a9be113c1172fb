// Fetches the knowledge sources from their public origins into a local cache laid out like
// ../shared/data/knowledge, so that `kep knowledge build` without --sources works on a fresh machine.
// Files already in the cache are kept (a cache is a pinned copy: rebuilding from it is reproducible);
// --refresh fetches them again. Every file is written atomically, so an interrupted download leaves
// the previous copy or nothing.
import { log as logger } from '../util/log.ts';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { createProgress, type Progress, type ProgressOptions } from '../util/progress.ts';
import { LICENCE_FILES, SOURCES } from './sources.ts';

export interface DownloadItem {
  /** Path inside the cache directory. */
  path: string;
  /** Addresses tried in order until one answers 200. */
  urls: string[];
  /** A failure is reported but does not stop the download (licence texts). */
  optional?: boolean;
}

export function defaultItems(): DownloadItem[] {
  return [
    ...SOURCES.map((s) => ({ path: s.path, urls: [...s.origins] })),
    ...LICENCE_FILES.map((l) => ({ path: l.path, urls: [...l.origins], optional: true })),
  ];
}

/** $KEP_CACHE, else $XDG_CACHE_HOME/kep, else ~/.cache/kep; the knowledge sources go in knowledge/. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['KEP_CACHE'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'kep');
  return join(base, 'knowledge');
}

export interface DownloadOptions {
  cacheDir: string;
  items?: DownloadItem[];
  refresh?: boolean;
  /** Injected in tests; defaults to Node's global fetch. */
  fetch?: typeof fetch;
  progress?: (options: ProgressOptions) => Progress;
  log?: (line: string) => void;
}

export interface DownloadResult {
  fetched: string[];
  cached: string[];
  failed: string[];
}

async function fetchOne(url: string, label: string, options: DownloadOptions): Promise<Uint8Array[]> {
  const doFetch = options.fetch ?? fetch;
  const res = await doFetch(url, { redirect: 'follow' });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  const length = Number(res.headers.get('content-length'));
  const makeProgress = options.progress ?? createProgress;
  const progress = makeProgress({
    label,
    unit: 'bytes',
    ...(Number.isFinite(length) && length > 0 ? { total: length } : {}),
  });
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    if (!res.body) throw new Error(`${url}: empty response`);
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.byteLength;
      progress.update(received);
    }
  } finally {
    progress.stop();
  }
  if (Number.isFinite(length) && length > 0 && received !== length) {
    throw new Error(`${url}: received ${received} of ${length} bytes`);
  }
  return chunks;
}

export async function downloadSources(options: DownloadOptions): Promise<DownloadResult> {
  const items = options.items ?? defaultItems();
  const log = options.log ?? ((line: string) => logger.info(line));
  const result: DownloadResult = { fetched: [], cached: [], failed: [] };
  for (const item of items) {
    const target = join(options.cacheDir, item.path);
    if (!options.refresh && existsSync(target)) {
      result.cached.push(item.path);
      continue;
    }
    const errors: string[] = [];
    let done = false;
    for (const url of item.urls) {
      try {
        const chunks = await fetchOne(url, item.path, options);
        writeFileAtomic(target, chunks);
        log(`fetched ${item.path} from ${url}`);
        result.fetched.push(item.path);
        done = true;
        break;
      } catch (err) {
        // fetch() reports network failures as "fetch failed" with the reason in `cause`.
        const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
        errors.push(`${err instanceof Error ? err.message : String(err)}${cause}`);
      }
    }
    if (!done) {
      result.failed.push(item.path);
      const message = `could not fetch ${item.path}: ${errors.join('; ')}`;
      if (!item.optional) throw new Error(message);
      log(`warning: ${message}`);
    }
  }
  return result;
}
