// `serval serve` as a child process (the real CLI) for the Hub tests, with
// hooks before 'ready': the port as soon as it listens (the download runs
// after), and the exit code and output of a start that fails.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testTransport } from '../support/transport.js';

/** dist/test/hub → repo root. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAIN = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export interface ServeProcess {
  child: ChildProcess;
  /** The port, once the server listens (before the model is fetched). */
  listening: Promise<number>;
  /** The port once the server logs 'ready'; rejects if the process exits first. */
  ready: Promise<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logs: Array<Record<string, unknown>>;
  /** stderr so far. */
  stderr(): string;
  stop(): Promise<number | null>;
}

/** The env a test start gets: the hub settings given, every other HF_* variable of the outer environment dropped. */
export function hubEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HF_') && !k.startsWith('HUGGING')));
  return { ...env, ...extra };
}

export function spawnServe(args: string[], env: NodeJS.ProcessEnv): ServeProcess {
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--http-transport', testTransport(), '--max-batch-size', '4', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let onListening: (port: number) => void = () => {};
  let onReady: (port: number) => void = () => {};
  const listening = new Promise<number>((resolve, reject) => {
    onListening = resolve;
    void exited.then(({ code }) => reject(new Error(`exited (${code}) before listening: ${stderr}`)));
  });
  const ready = new Promise<number>((resolve, reject) => {
    onReady = resolve;
    void exited.then(({ code }) => reject(new Error(`exited (${code}) before ready: ${stderr}`)));
  });
  listening.catch(() => undefined);
  ready.catch(() => undefined);
  let port = 0;
  let buffered = '';
  child.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        logs.push({ notJson: line });
        continue;
      }
      logs.push(entry);
      if (typeof entry.port === 'number' && port === 0) {
        port = entry.port;
        onListening(port);
      }
      if (entry.msg === 'ready') onReady(port);
    }
  });
  return {
    child,
    listening,
    ready,
    exited,
    logs,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return (await exited).code;
    },
  };
}
