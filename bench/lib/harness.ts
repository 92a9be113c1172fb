// Shared pieces of the benchmark scripts: timing, the PyTorch reference subprocess, CPU facts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface Timing {
  median: number;
  min: number;
  runs: number[];
}

/** Runs fn `warmup` times untimed, then `iters` times; seconds per call. */
export async function time(fn: () => Promise<unknown>, iters: number, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const runs: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    runs.push((performance.now() - t0) / 1000);
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, runs };
}

/** Runs a Python reference script with Debian's torch and returns the JSON object on its last stdout line. */
export function runReference(script: string, args: string[]): Record<string, unknown> {
  const python = process.env.KEP_REFERENCE_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0)
    throw new Error(
      `${python} ${script} failed (${r.error?.message ?? `exit ${r.status}`}); install the reference with ` +
        '`apt-get install python3-torch python3-torchvision libopenblas0-openmp`',
    );
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

/**
 * The CPU's theoretical fp32 peak: cores × FLOP/cycle × GHz. FLOP/cycle comes from the vector
 * units (2 FMA pipes × lanes × 2); the clock is the one the kernel reports, which under a
 * hypervisor is often the nominal one. An estimate, labelled as such wherever it is printed.
 */
export function peakGflops(threads: number): {
  gflops: number;
  flopsPerCycle: number;
  ghz: number;
  model: string;
} {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
  const family = Number(/^cpu family\s*:\s*(\d+)/m.exec(info)?.[1] ?? 0);
  const modelNo = Number(/^model\s*:\s*(\d+)/m.exec(info)?.[1] ?? 0);
  const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(info)?.[1] ?? '';
  let flopsPerCycle = flags.has('fma') ? 32 : flags.has('avx') ? 16 : 8;
  // AMD Zen 1/Zen+ (family 0x17, models < 0x30) split 256-bit ops over 128-bit FMA units.
  if (vendor === 'AuthenticAMD' && family === 23 && modelNo < 0x30) flopsPerCycle = 16;
  if (vendor === 'GenuineIntel' && flags.has('avx512f')) flopsPerCycle = 64;
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(info)?.[1] ?? cpus()[0]?.speed ?? 0);
  const ghz = mhz / 1000;
  const model = (/^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? 'unknown').trim();
  return { gflops: threads * flopsPerCycle * ghz, flopsPerCycle, ghz, model };
}

export const fmt = (x: number, digits = 2): string => x.toFixed(digits);

/**
 * CPU used by other processes while a benchmark runs, in CPUs (0 on an idle machine, up to the core
 * count when fully contended): machine-wide busy time from /proc/stat less this process's and its
 * waited-for children's (the PyTorch reference) from /proc/self/stat. Linux only; undefined elsewhere.
 */
export function otherCpuMeter(): () => number | undefined {
  const ticks = (): { busy: number; own: number } | undefined => {
    try {
      const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
      const busy = cpu.reduce((a, b) => a + b, 0) - cpu[3]! - (cpu[4] ?? 0); // less idle and iowait
      const self = readFileSync('/proc/self/stat', 'utf8');
      const fields = self
        .slice(self.lastIndexOf(')') + 2)
        .split(' ')
        .map(Number);
      // utime, stime, cutime, cstime are fields 14–17 (1-based); after "pid (comm) " they start at index 11.
      const own = fields[11]! + fields[12]! + fields[13]! + fields[14]!;
      return { busy, own };
    } catch {
      return undefined;
    }
  };
  const start = ticks();
  const t0 = performance.now();
  return () => {
    const end = ticks();
    if (!start || !end) return undefined;
    const hz = 100; // USER_HZ on Linux
    const seconds = (performance.now() - t0) / 1000;
    return Math.max(0, (end.busy - start.busy - (end.own - start.own)) / hz / seconds);
  };
}
