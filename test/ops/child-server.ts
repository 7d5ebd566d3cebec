// Runs `serval serve` as a child process (the real CLI, signals and exit code
// included) on a free port, for tests that need a whole process.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testTransport } from '../support/transport.js';

/** dist/test/ops → repo root. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAIN = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export interface ChildServer {
  child: ChildProcess;
  base: string;
  port: number;
  /** Every log line so far (pino JSON objects). */
  logs: Array<Record<string, unknown>>;
  /** stdout and stderr so far, as text. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** The server process ended before it was ready. */
export class ExitedBeforeReady extends Error {
  constructor(
    readonly code: number | null,
    readonly output: string,
  ) {
    super(`server exited (${code}) before ready: ${output}`);
  }
}

/** Starts the CLI; resolves when it logs 'ready', rejects with ExitedBeforeReady if it exits first. */
export async function startChildServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--http-transport', testTransport(), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let buffered = '';
  const ready = new Promise<number>((resolve, reject) => {
    let port = 0;
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (typeof entry.port === 'number') port = entry.port;
          if (entry.msg === 'ready') resolve(port);
        } catch {
          // not a log line
        }
      }
    });
    void exited.then(({ code }) => reject(new ExitedBeforeReady(code, output)));
  });
  const port = await ready;
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    port,
    logs,
    output: () => output,
    exited,
    async stop() {
      child.kill('SIGTERM');
      return (await exited).code;
    },
  };
}
