// `npm run build:binary`: one executable `serval` (Node's single-executable
// applications) holding the built server and its production dependencies for
// this platform; see scripts/sea-main.cjs for how it starts. Needs a built
// dist/ (the npm script builds first) and postject from the npm registry.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(repo, 'build', 'binary');
const target = path.join(repo, 'serval');
const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));

/** Native builds for other platforms, architectures and Node ABIs: dead weight in this executable. */
function otherPlatform(rel) {
  const p = rel.split(path.sep).join('/');
  if (/\/(darwin|win32|linux\/arm64|linux\/arm)\//.test(p)) return true;
  if (/uws-js-unofficial\/(binaries|dist|src|docs)\//.test(p)) return !p.endsWith(`binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  return /\.(map|d\.ts|md|ts)$/.test(p) && !p.startsWith('dist/') && !p.startsWith('schemas/');
}

function walk(dir, files) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, files);
    else if (entry.isFile()) files.push(full);
  }
  return files;
}

// Production dependencies only, as npm resolves them.
const modules = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repo, encoding: 'utf8' })
  .split('\n')
  .filter((line) => line !== '' && line !== repo && line.includes(`${path.sep}node_modules${path.sep}`));
const roots = [path.join(repo, 'dist', 'src'), path.join(repo, 'dist', 'workers'), path.join(repo, 'schemas'), ...new Set(modules)];
const files = new Set([path.join(repo, 'package.json')]);
for (const root of roots) for (const file of walk(root, [])) files.add(file);

const index = [];
const chunks = [];
for (const file of [...files].sort()) {
  // npm may print node_modules paths through a symlinked node_modules: keep them relative to it.
  const inModules = file.indexOf(`${path.sep}node_modules${path.sep}`);
  const rel = inModules >= 0 ? file.slice(inModules + 1) : path.relative(repo, file);
  if (otherPlatform(rel)) continue;
  const data = fs.readFileSync(file);
  index.push({ path: rel, size: data.length, mode: fs.statSync(file).mode & 0o777 });
  chunks.push(data);
}
// The bridge from the embedded CommonJS entry to the ESM CLI (dist/src/cli/main.js).
const boot = Buffer.from("import('./dist/src/cli/main.js');\n");
index.push({ path: 'boot.cjs', size: boot.length, mode: 0o644 });
chunks.push(boot);

const indexBytes = Buffer.from(JSON.stringify(index));
const header = Buffer.alloc(4);
header.writeUInt32LE(indexBytes.length);
const archive = Buffer.concat([header, indexBytes, ...chunks]);
const hash = createHash('sha256').update(archive).digest('hex').slice(0, 12);
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'payload.bin.gz'), zlib.gzipSync(archive, { level: 6 }));
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify({ version: pkg.version, hash }));
fs.writeFileSync(
  path.join(out, 'sea-config.json'),
  JSON.stringify({
    main: path.join(repo, 'scripts', 'sea-main.cjs'),
    output: path.join(out, 'sea-prep.blob'),
    disableExperimentalSEAWarning: true,
    assets: { 'payload.bin.gz': path.join(out, 'payload.bin.gz'), 'manifest.json': path.join(out, 'manifest.json') },
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', path.join(out, 'sea-config.json')], { stdio: 'inherit' });
fs.copyFileSync(process.execPath, target);
fs.chmodSync(target, 0o755);
execFileSync('npx', ['--yes', 'postject@1.0.0-alpha.6', target, 'NODE_SEA_BLOB', path.join(out, 'sea-prep.blob'), '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: 'inherit' });
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
console.log(`${path.relative(process.cwd(), target)}: ${mib(fs.statSync(target).size)} (${index.length} files, ${mib(archive.length)} unpacked, payload ${hash})`);
