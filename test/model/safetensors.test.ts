// safetensors reading and writing: round trips in all three dtypes (checked
// against a test-side decoder of the file bytes), sharding, and the error
// messages for each kind of broken file.

import { readFileSync, readdirSync, writeFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { SafetensorsFile, openSafetensorsDir, writeSafetensors, writeShardedSafetensors, type TensorToWrite } from '../../src/model/safetensors.js';
import type { WeightDType } from '../../src/model/types.js';
import { bitsEqual, decodeRaw, expectLoadError, parseRaw, rawSafetensors, tempDir } from './helpers.js';

function sampleTensors(dtype: WeightDType): Map<string, TensorToWrite> {
  const a = new Float32Array(6 * 5);
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 1.7) * 10 ** ((i % 7) - 3);
  a[0] = 0;
  a[1] = -0;
  a[2] = 1e-6; // F16 subnormal
  a[3] = 70000; // F16 overflow → inf
  const b = new Float32Array([1, 2, 3, -4.5]);
  const scalar = new Float32Array([Math.PI]);
  return new Map([
    ['layer.weight', { dtype, shape: [6, 5], data: a }],
    ['layer.bias', { dtype, shape: [4], data: b }],
    ['scale', { dtype, shape: [], data: scalar }],
  ]);
}

for (const dtype of ['F32', 'F16', 'BF16'] as const) {
  t.test(`${dtype} round trip matches an independent decode of the written bytes`, async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'model.safetensors');
    const tensors = sampleTensors(dtype);
    await writeSafetensors(file, tensors, { format: 'pt' });
    const buf = readFileSync(file);
    const { header, data } = parseRaw(buf);
    t.same((header as Record<string, unknown>).__metadata__, { format: 'pt' });
    t.equal((8 + Number(buf.readBigUInt64LE(0))) % 8, 0, 'data section is 8-byte aligned');
    const st = SafetensorsFile.open(file);
    t.same(st.metadata, { format: 'pt' });
    const store = openSafetensorsDir(dir);
    t.same(store.names().sort(), [...tensors.keys()].sort());
    for (const [name, original] of tensors) {
      const h = header[name];
      t.equal(h.dtype, dtype);
      t.same(h.shape, original.shape);
      const expected = decodeRaw(dtype, data.subarray(h.data_offsets[0], h.data_offsets[1]));
      const loaded = store.get(name);
      t.same(loaded.shape, original.shape);
      t.ok(bitsEqual(loaded.data, expected), `${name} loads bit-identical to the formula decode`);
      if (dtype === 'F32') t.ok(bitsEqual(loaded.data, original.data), `${name} F32 is lossless`);
      t.equal(store.dtypeOf(name), dtype);
      const again = store.get(name);
      t.not(again, loaded, 'not cached: each read is a fresh tensor the caller may let go');
      t.ok(bitsEqual(again.data, loaded.data), 'and reads the same values');
    }
    if (dtype === 'F16') {
      const w = store.get('layer.weight').data;
      t.equal(w[3], Infinity, '70000 overflows F16 to inf');
      t.ok(w[2] > 0 && w[2] < 6.2e-5, 'subnormal survives');
      t.ok(Object.is(w[1], -0), '-0 keeps its sign');
    }
  });
}

t.test('sharded files load identically to a single file', async (t) => {
  const single = tempDir(t);
  const sharded = tempDir(t);
  const tensors = sampleTensors('BF16');
  await writeSafetensors(path.join(single, 'model.safetensors'), tensors);
  const files = await writeShardedSafetensors(sharded, tensors, 40);
  t.ok(files.length >= 3, `several shards plus index: ${files.join(', ')}`);
  t.ok(files.includes('model.safetensors.index.json'));
  const index = JSON.parse(readFileSync(path.join(sharded, 'model.safetensors.index.json'), 'utf8'));
  t.same(Object.keys(index.weight_map).sort(), [...tensors.keys()].sort());
  t.equal(index.metadata.total_size, (30 + 4 + 1) * 2);
  t.same(new Set(Object.values(index.weight_map)).size, files.length - 1, 'every shard holds a tensor');
  const a = openSafetensorsDir(single);
  const b = openSafetensorsDir(sharded);
  for (const name of tensors.keys()) {
    t.same(b.get(name).shape, a.get(name).shape);
    t.ok(bitsEqual(b.get(name).data, a.get(name).data), `${name} identical`);
  }
});

t.test('errors name the file and the tensor', async (t) => {
  const dir = tempDir(t);
  const f32 = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
  const write = (name: string, bytes: Buffer): string => {
    const p = path.join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  const tooShort = write('short.safetensors', Buffer.from([1, 2, 3]));
  await expectLoadError(t, () => SafetensorsFile.open(tooShort), 'short.safetensors', null, /truncated/);

  const longHeader = write('longheader.safetensors', rawSafetensors({}, f32, 1000n));
  await expectLoadError(t, () => SafetensorsFile.open(longHeader), 'longheader.safetensors', null, /header length 1000 exceeds the file size/);

  const badJson = write('badjson.safetensors', rawSafetensors('{"w": {"dtype": "F32", ', f32));
  await expectLoadError(t, () => SafetensorsFile.open(badJson), 'badjson.safetensors', null, /malformed JSON header/);

  const i8 = write('i8.safetensors', rawSafetensors({ 'model.w': { dtype: 'I8', shape: [16], data_offsets: [0, 16] } }, f32));
  const i8file = SafetensorsFile.open(i8); // unsupported dtypes may be unused buffers: fail on use
  await expectLoadError(t, () => i8file.read('model.w'), 'i8.safetensors', 'model.w', /unsupported dtype I8; only F32, F16 and BF16/);

  const f64 = write('f64.safetensors', rawSafetensors({ 'model.d': { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, f32));
  await expectLoadError(t, () => SafetensorsFile.open(f64).read('model.d'), 'f64.safetensors', 'model.d', /unsupported dtype F64/);

  const truncated = write('trunc.safetensors', rawSafetensors({ 'model.t': { dtype: 'F32', shape: [8], data_offsets: [0, 32] } }, f32));
  await expectLoadError(t, () => SafetensorsFile.open(truncated), 'trunc.safetensors', 'model.t', /truncated/);

  const inconsistent = write('shape.safetensors', rawSafetensors({ 'model.s': { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, f32));
  await expectLoadError(t, () => SafetensorsFile.open(inconsistent), 'shape.safetensors', 'model.s', /span 16 bytes but shape \[3\] of F32 needs 12/);

  const badOffsets = write('offsets.safetensors', rawSafetensors({ 'model.o': { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, f32));
  await expectLoadError(t, () => SafetensorsFile.open(badOffsets), 'offsets.safetensors', 'model.o', /data_offsets/);

  const ok = write('ok.safetensors', rawSafetensors({ __metadata__: { a: 'b' }, 'model.x': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }, f32));
  t.same([...SafetensorsFile.open(ok).read('model.x').data], [1, 2, 3, 4], 'hand-built file with __metadata__ reads');
});

t.test('missing shard and missing file errors', async (t) => {
  const dir = tempDir(t);
  await writeShardedSafetensors(dir, sampleTensors('F32'), 40);
  const shard = readdirSync(dir).find((f) => f.startsWith('model-00002'));
  t.ok(shard);
  unlinkSync(path.join(dir, shard!));
  await expectLoadError(t, () => openSafetensorsDir(dir), shard!, null, /shard file not found/);

  const empty = tempDir(t);
  await expectLoadError(t, () => openSafetensorsDir(empty), 'model.safetensors', null, /file not found/);

  const badIndex = tempDir(t);
  writeFileSync(path.join(badIndex, 'model.safetensors.index.json'), '{"metadata": {}}');
  await expectLoadError(t, () => openSafetensorsDir(badIndex), 'model.safetensors.index.json', 'weight_map', /missing/);
});
