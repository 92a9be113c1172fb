// `kep wsi status --queue URL [--json]` and `kep wsi retry --queue URL`: look at the slide queue and
// send its failed jobs back (src/pipeline/queue-status.ts). docs/deployment.md.
import type { Command } from 'commander';
import { openSlideQueue } from '../pipeline/queue-run.ts';
import { queueStatus, retryFailedJobs, statusText } from '../pipeline/queue-status.ts';
import { queueConnection } from '../pipeline/slide-queue.ts';
import { positiveInt } from './arguments.ts';
import { commandGroup } from './groups.ts';

export interface WsiQueueDeps {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** How long a one-off look waits for an unreachable Redis before it is an error. */
const GIVE_UP_MS = 10_000;

/** Opens the queue, runs `fn`, closes it; an unreachable Redis is an error after GIVE_UP_MS. */
async function withQueue<T>(
  url: string,
  fn: (q: ReturnType<typeof openSlideQueue>) => Promise<T>,
): Promise<T> {
  queueConnection(url);
  const queue = openSlideQueue(url, { giveUpAfterMs: GIVE_UP_MS });
  let lastError: Error | undefined;
  queue.on('error', (e) => (lastError = e));
  try {
    return await fn(queue);
  } catch (err) {
    const why = lastError?.message ?? (err as Error).message;
    throw new Error(`${url}: the queue is unreachable (${why}; gave up after ${GIVE_UP_MS / 1000} s)`, {
      cause: err,
    });
  } finally {
    await queue.close().catch(() => {});
  }
}

export function registerWsiQueueCommands(program: Command, deps: Partial<WsiQueueDeps> = {}): void {
  const out = deps.out ?? ((t: string) => void process.stdout.write(t));
  const err = deps.err ?? ((t: string) => void process.stderr.write(t));
  const wsi = commandGroup(
    program,
    'wsi',
    'whole-slide images: read, segment, patch, embed, zero-shot subtyping',
  );
  wsi
    .command('status')
    .description(
      'the slide queue: counts by state, connected workers, and each slide’s state, stage and failure',
    )
    .requiredOption('--queue <url>', 'redis://HOST:PORT[/DB]')
    .option('--limit <n>', 'slides listed per state', positiveInt, 1000)
    .option('--json', 'as JSON on stdout', false)
    .action(async (o: { queue: string; limit: number; json: boolean }) => {
      const s = await withQueue(o.queue, (q) => queueStatus(q, o.limit));
      out(o.json ? JSON.stringify(s, null, 2) + '\n' : statusText(s));
    });
  wsi
    .command('retry')
    .description('send every failed slide job back to the queue')
    .requiredOption('--queue <url>', 'redis://HOST:PORT[/DB]')
    .action(async (o: { queue: string }) => {
      const n = await withQueue(o.queue, (q) => retryFailedJobs(q));
      err(`kep: ${n} failed slide job${n === 1 ? '' : 's'} sent back to the queue\n`);
    });
}
