// The server's JSON API as the app sees it (shapes of src/server/routes-*.ts).
export interface RunInfo {
  name: string;
  problems: string[];
  model: string | null;
  untrained: boolean | null;
  modelSource: string | null;
  slides: number;
  trainingRuns: string[];
  classes: { labels: string[]; origin: string } | null;
  knowledge: { ranker: string } | null;
}

export interface SlideInfo {
  id: string;
  status: string;
  width: number | null;
  height: number | null;
  nPatches: number | null;
  label: string | null;
  prediction: string | null;
  error: string | null;
  problems: string[];
  files: string[];
  thumbnail: string | null;
}

export interface Patches {
  count: number;
  patchSizeLevel0: number;
  coords: number[];
}

export interface ClassScores {
  origin: string;
  labels: string[];
  scores: number[][];
  ks: number[];
  pooled: number[][];
  predicted: string;
}

export interface SearchResult {
  text: string;
  count: number;
  scores: number[];
  top: { index: number; x: number; y: number; score: number }[];
  ms: number;
}

export interface PatchInfo {
  index: number;
  x: number;
  y: number;
  size: number;
  classes: { label: string; score: number }[];
  topPrompts: { label: string; caption: string; score: number }[];
}

export interface KnowledgeHit {
  id: string;
  name: string;
  tissue: string;
  score: number;
  via: string;
}

export interface Disease {
  id: string;
  name: string;
  tissue: string;
  attributes: {
    kind: string;
    text: string;
    provenance: { source: string; ref: string; licence: string }[];
  }[];
}

export interface RunMetrics {
  id: string;
  lines: number;
  series: { name: string; points: [number, number][] }[];
  last: Record<string, number>;
  summary: unknown;
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  const body = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(body.error ?? `${url}: HTTP ${r.status}`);
  return body;
}

export function postJson<T>(url: string, body: unknown): Promise<T> {
  return getJson<T>(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

export const slideUrl = (id: string, rest: string): string => `/api/slides/${encodeURIComponent(id)}/${rest}`;
