#!/usr/bin/env node
// `serval <command>`: serve (default) or make-model.

import { readFileSync } from 'node:fs';

const USAGE = `Usage: serval <command> [options]
       serval --version

Commands:
  serve        Serve the OpenAI-compatible HTTP API (see 'serval serve --help')
  make-model   Write a built-in test model folder (see 'serval make-model --help')
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'serve':
      // Loaded on use: --version and --help need none of the server.
      return (await import('./serve.js')).runServe(rest);
    case 'make-model':
      await (await import('./make-model.js')).runMakeModel(rest);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case '--version':
    case '-v':
      process.stdout.write(`serval ${version()} (Node ${process.version})\n`);
      return 0;
    default:
      process.stderr.write(`serval: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

/** package.json's version (dist/src/cli/main.js → the package root). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
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
