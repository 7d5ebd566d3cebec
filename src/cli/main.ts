#!/usr/bin/env node
// `serval <command>`: serve (default) or make-model.

import { runMakeModel } from './make-model.js';
import { runServe } from './serve.js';

const USAGE = `Usage: serval <command> [options]

Commands:
  serve        Serve the OpenAI-compatible HTTP API (see 'serval serve --help')
  make-model   Write a built-in test model folder (see 'serval make-model --help')
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'serve':
      return runServe(rest);
    case 'make-model':
      await runMakeModel(rest);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`serval: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`serval: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
