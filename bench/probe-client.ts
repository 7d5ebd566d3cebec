// The bench side of bench/session-probe.cts: re-executes the bench under the
// preload, and collects the session.run records the device workers broadcast.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import { sleep } from './workload.js';

const PROBE_CHANNEL = 'serval-bench-session-probe';
const PROBE_FIELDS = 10;
const PROBE_FILE = fileURLToPath(new URL('./session-probe.cjs', import.meta.url));

export interface RunRecord {
  /** Epoch ms (performance.timeOrigin + now) at the call. */
  start: number;
  durationMs: number;
  batch: number;
  seqLen: number;
  /** Rows with new_len > 0 (the device's decode batch includes idle slots). */
  activeRows: number;
  pastSum: number;
  newTokens: number;
  threadId: number;
  /** Per-slot KV capacity of the call's KV inputs. */
  capacity: number;
  /** Longest active row's past + new tokens: the least capacity the call could have had. */
  longestRow: number;
}

/**
 * Unless already probed, runs this script again under `--require session-probe.cjs`
 * and exits with its status. Returns only inside the probed process.
 */
export function reexecWithProbe(scriptUrl: string): void {
  if (process.env.SERVAL_BENCH_PROBE === '1') return;
  const result = spawnSync(process.execPath, [...process.execArgv, '--require', PROBE_FILE, fileURLToPath(scriptUrl), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, SERVAL_BENCH_PROBE: '1' },
  });
  process.exit(result.status ?? 1);
}

export class ProbeCollector {
  private readonly channel = new BroadcastChannel(PROBE_CHANNEL);
  private readonly records: RunRecord[] = [];
  readonly active = process.env.SERVAL_BENCH_PROBE === '1';

  constructor() {
    this.channel.unref();
    this.channel.onmessage = (event: unknown): void => {
      const flat = (event as { data: number[] }).data;
      if (!Array.isArray(flat)) return;
      for (let i = 0; i + PROBE_FIELDS <= flat.length; i += PROBE_FIELDS) {
        this.records.push({
          start: flat[i],
          durationMs: flat[i + 1],
          batch: flat[i + 2],
          seqLen: flat[i + 3],
          activeRows: flat[i + 4],
          pastSum: flat[i + 5],
          newTokens: flat[i + 6],
          threadId: flat[i + 7],
          capacity: flat[i + 8],
          longestRow: flat[i + 9],
        });
      }
    };
  }

  /** Asks every thread for its pending records and returns those starting in [from, to] (epoch ms). */
  async collect(from: number, to: number): Promise<RunRecord[]> {
    this.channel.postMessage('flush');
    await sleep(300);
    return this.records.filter((r) => r.start >= from && r.start <= to).sort((a, b) => a.start - b.start);
  }

  close(): void {
    this.channel.close();
  }
}

/** performance.now() of this thread as epoch ms, comparable with RunRecord.start. */
export const epochNow = (): number => performance.timeOrigin + performance.now();
