// For the queue tests: a real redis-server of the test's own, on a free loopback port, with no
// persistence (--save '' --appendonly no: a restart empties it, the worst case a batch must survive),
// stopped and restarted on the same port at will. Tests skip when redis-server is not installed.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const REDIS_SERVER = process.env['KEP_REDIS_SERVER'] ?? 'redis-server';

/** Why the queue tests cannot run here, or false. */
export function redisMissing(): string | false {
  const r = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' });
  return r.status === 0 ? false : `${REDIS_SERVER} is not installed (apt-get install redis-server)`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

async function answers(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = createConnection({ port, host: '127.0.0.1' }, () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      ok(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => ok(false));
  });
}

export interface TestRedis {
  url: string;
  port: number;
  /** Kills the server (its data is gone: no persistence). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (await answers(port)) return;
      await sleep(50);
    }
    throw new Error(`redis-server on port ${port} did not start`);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((ok) => c.once('exit', ok));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
