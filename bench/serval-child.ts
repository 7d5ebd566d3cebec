// Starts `serval serve` as a child process on a free loopback port for a bench
// and waits until /health answers 200.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sleep } from './workload.js';

const START_TIMEOUT_MS = 180_000;

export interface ServalChild {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  origin: string;
  stop(): Promise<void>;
}

/** `flags` must leave the log level at info or lower: the port is read from the 'listening' line. */
export async function startServalChild(flags: string[], nodeArgs: string[] = []): Promise<ServalChild> {
  const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const args = [...nodeArgs, main, 'serve', '--port', '0', '--host', '127.0.0.1', '--log-format', 'json', ...flags];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('serval did not report its port')), START_TIMEOUT_MS);
      child.once('exit', (code) => reject(new Error(`serval exited with ${code} before listening`)));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { port?: number; level?: number; route?: string };
          if (typeof entry.port === 'number') {
            clearTimeout(timer);
            resolve(entry.port);
          }
          // Errors, but not the 503s our own /health polls get while the model loads.
          if ((entry.level ?? 0) >= 50 && entry.route !== '/health') console.error(`serval: ${line}`);
        } catch {
          console.error(`serval: ${line}`);
        }
      });
    });
    const origin = `http://127.0.0.1:${port}`;
    const deadline = performance.now() + START_TIMEOUT_MS;
    while ((await fetch(`${origin}/health`).catch(() => null))?.status !== 200) {
      if (performance.now() > deadline || child.exitCode !== null) throw new Error('serval did not become ready');
      await sleep(250);
    }
    return { child, origin, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
