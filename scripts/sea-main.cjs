// Entry point of the single `serval` executable (Node's single-executable
// applications run one CommonJS script whose require() sees only built-in
// modules). The executable carries the built server — dist/, schemas/ and the
// production node_modules, native addons included — as one gzipped archive
// asset. The first start unpacks it into a cache folder named after the
// version and the archive's hash (a new build never reuses an old tree);
// later starts go straight there. The unpacked tree is an ordinary install:
// worker threads, native addons and xgrammar's WebAssembly load from files.

'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { createRequire } = require('node:module');
const sea = require('node:sea');

const manifest = JSON.parse(sea.getAsset('manifest.json', 'utf8'));
const cacheRoot = process.env.SERVAL_CACHE_DIR || path.join(os.homedir(), '.cache', 'serval');
const root = path.join(cacheRoot, 'bin', `${manifest.version}-${manifest.hash}`);
const COMPLETE = path.join(root, '.complete');

function unpack() {
  // Unpacked beside the final folder and renamed into place: a crash or a
  // concurrent first start never leaves a half-written tree behind.
  const staging = `${root}.${process.pid}.tmp`;
  fs.rmSync(staging, { recursive: true, force: true });
  const archive = zlib.gunzipSync(Buffer.from(sea.getAsset('payload.bin.gz')));
  const indexLength = archive.readUInt32LE(0);
  const index = JSON.parse(archive.subarray(4, 4 + indexLength).toString('utf8'));
  let offset = 4 + indexLength;
  for (const entry of index) {
    const target = path.join(staging, entry.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, archive.subarray(offset, offset + entry.size), { mode: entry.mode });
    offset += entry.size;
  }
  fs.writeFileSync(path.join(staging, '.complete'), '');
  try {
    fs.renameSync(staging, root);
  } catch (error) {
    // Another process finished first: use its tree.
    fs.rmSync(staging, { recursive: true, force: true });
    if (!fs.existsSync(COMPLETE)) throw error;
  }
}

if (!fs.existsSync(COMPLETE)) {
  fs.mkdirSync(path.dirname(root), { recursive: true });
  unpack();
}
// A file-backed require can load the ESM CLI through import(), which the embedded script cannot.
createRequire(path.join(root, 'package.json'))('./boot.cjs');
