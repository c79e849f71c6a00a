// Tests for safetensors.ts, sharded.ts and node-source.ts. Python's `safetensors` is not installed
// on this machine (and PyPI is unreachable), so the expected bytes are built by hand from the
// format spec: u64 LE header length, compact JSON ordered by (dtype width desc, name), __metadata__
// first, spaces to a multiple of 8, then the raw little-endian data. The cases mirror the
// reference implementation's own serialization tests (header lengths 64, 72, 8 and 40).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from './errors';
import { fileSource } from './node-source';
import {
  type ByteSource,
  blobSource,
  bytesSource,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  parseSafetensors,
  SafetensorsFile,
  toFloat32,
  toInt32,
  writeSafetensors,
} from './safetensors';
import { parseShardIndex, ShardedSafetensors } from './sharded';

const enc = new TextEncoder();

function u64le(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function f32le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i], true);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A file with the given header text (padded as the spec says) and data bytes. */
function craft(json: string, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  const j = enc.encode(json);
  const n = pad ? Math.ceil(j.length / 8) * 8 : j.length;
  const h = new Uint8Array(n).fill(0x20);
  h.set(j);
  return concat(u64le(n), h, data);
}

function expectFormatError(fn: () => unknown, ...parts: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  for (const p of parts) expect((err as Error).message).toContain(p);
}

async function expectFormatErrorAsync(p: Promise<unknown>, ...parts: string[]): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  for (const s of parts) expect((err as Error).message).toContain(s);
}

describe('safetensors writer: bytes as the spec lays them out', () => {
  it('one F32 tensor whose header needs no padding (N = 64)', () => {
    const out = writeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: [0, 1, 2, 3, 4, 5] } });
    const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(64);
    expect([...out]).toEqual([...concat(u64le(64), enc.encode(json), f32le([0, 1, 2, 3, 4, 5]))]);
  });

  it('pads the header with spaces to a multiple of 8 (N = 72)', () => {
    const out = writeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: [0, 1, 2, 3, 4, 5] } });
    const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(65);
    const expected = concat(
      u64le(72),
      enc.encode(json),
      enc.encode(' '.repeat(7)),
      f32le([0, 1, 2, 3, 4, 5]),
    );
    expect([...out]).toEqual([...expected]);
  });

  it('empty file, with and without metadata (N = 8, N = 40)', () => {
    expect([...writeSafetensors({})]).toEqual([...concat(u64le(8), enc.encode('{}      '))]);
    const json = '{"__metadata__":{"framework":"pt"}}';
    expect([...writeSafetensors({}, { framework: 'pt' })]).toEqual([
      ...concat(u64le(40), enc.encode(json), enc.encode('     ')),
    ]);
  });

  it('orders tensors by dtype width (widest first) then name, metadata first with sorted keys', () => {
    const out = writeSafetensors(
      {
        b: { dtype: 'I32', shape: [2], data: [7, -8] },
        z: { dtype: 'F32', shape: [1], data: [1] },
        c: { dtype: 'F16', shape: [1], data: [1] },
        a: { dtype: 'F32', shape: [], data: [2] },
        '10': { dtype: 'F32', shape: [0], data: [] },
      },
      { z: '1', a: '2' },
    );
    const h = parseSafetensors(out, 'x.safetensors');
    expect([...h.tensors.keys()]).toEqual(['10', 'a', 'z', 'b', 'c']);
    const json = new TextDecoder().decode(out.subarray(8, 8 + h.headerLength));
    expect(json.trimEnd()).toBe(
      '{"__metadata__":{"a":"2","z":"1"},' +
        '"10":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},' +
        '"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
        '"z":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},' +
        '"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},' +
        '"c":{"dtype":"F16","shape":[1],"data_offsets":[16,18]}}',
    );
    expect(h.headerLength % 8).toBe(0);
    // 1.0 in float16 is 0x3c00, little-endian.
    expect([...out.subarray(out.length - 2)]).toEqual([0x00, 0x3c]);
  });

  it('refuses data that does not fill the shape and non-integer I32 values', () => {
    expectFormatError(
      () => writeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] } }),
      '"w"',
      '4 values',
    );
    expectFormatError(
      () => writeSafetensors({ ids: { dtype: 'I32', shape: [1], data: [1.5] } }),
      '"ids"',
      'int32',
    );
  });
});

describe('safetensors round trips', () => {
  const values = [0, 1, -2.5, 3.140625, 65504, -1e-3, 1e-7];
  const tensors = {
    'model.embed_tokens.weight': { dtype: 'F32' as const, shape: [7], data: values },
    half: { dtype: 'F16' as const, shape: [7], data: values },
    brain: { dtype: 'BF16' as const, shape: [1, 7], data: values },
    input_ids: { dtype: 'I32' as const, shape: [2, 3], data: [0, 1, -1, 2147483647, -2147483648, 42] },
    '0': { dtype: 'F32' as const, shape: [1], data: [5] },
  };

  for (const via of ['bytes', 'blob'] as const) {
    it(`reads back what it wrote (${via} source)`, async () => {
      const bytes = writeSafetensors(tensors, { format: 'pt' });
      const src =
        via === 'bytes'
          ? bytesSource(bytes, 'rt.safetensors')
          : blobSource(new Blob([bytes]), 'rt.safetensors');
      const f = await SafetensorsFile.open(src);
      expect(f.metadata).toEqual({ format: 'pt' });
      expect(new Set(f.keys())).toEqual(new Set(Object.keys(tensors)));
      expect(f.info('brain').shape).toEqual([1, 7]);
      expect([...(await f.readF32('model.embed_tokens.weight'))]).toEqual(values.map(Math.fround));
      const half = await f.readF32('half');
      for (let i = 0; i < values.length; i++)
        expect(half[i]).toBeCloseTo(values[i], Math.abs(values[i]) > 1 ? 1 : 3);
      expect(half[4]).toBe(65504);
      expect(half[3]).toBe(3.140625);
      const brain = await f.readF32('brain');
      for (let i = 0; i < values.length; i++) {
        expect(Math.abs(brain[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -8);
      }
      expect([...(await f.readI32('input_ids'))]).toEqual(tensors.input_ids.data);
      expect([...(await f.readF32('0'))]).toEqual([5]);
      await expectFormatErrorAsync(f.readI32('half'), 'rt.safetensors', '"half"', 'integer');
      expect(() => f.info('nope')).toThrow(/rt\.safetensors.*"nope"/);
    });
  }

  it('reads only the header on open, then exactly one range per tensor', async () => {
    const bytes = writeSafetensors(tensors);
    const reads: [number, number][] = [];
    const inner = bytesSource(bytes, 'lazy.safetensors');
    const src: ByteSource = {
      name: inner.name,
      size: inner.size,
      read: (b, e) => {
        reads.push([b, e]);
        return inner.read(b, e);
      },
    };
    const f = await SafetensorsFile.open(src);
    expect(reads).toEqual([
      [0, 8],
      [8, 8 + f.header.headerLength],
    ]);
    await f.readF32('half');
    const t = f.info('half');
    expect(reads[2]).toEqual([f.header.dataStart + t.begin, f.header.dataStart + t.end]);
  });

  it('reads a file on disk through fileSource', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    try {
      const p = join(dir, 'model.safetensors');
      writeFileSync(p, writeSafetensors(tensors));
      const f = await SafetensorsFile.open(await fileSource(p));
      expect(f.name).toBe('model.safetensors');
      expect([...(await f.readI32('input_ids'))]).toEqual(tensors.input_ids.data);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('converts the other dtypes a checkpoint may hold (F64, I64, U8, BOOL, F8)', () => {
    const f64 = new Uint8Array(16);
    new DataView(f64.buffer).setFloat64(0, 0.1, true);
    new DataView(f64.buffer).setFloat64(8, -3, true);
    expect([...toFloat32(f64, 'F64')]).toEqual([Math.fround(0.1), -3]);
    const i64 = new Uint8Array(16);
    new DataView(i64.buffer).setBigInt64(0, -5n, true);
    new DataView(i64.buffer).setBigInt64(8, 50257n, true);
    expect([...toInt32(i64, 'I64')]).toEqual([-5, 50257]);
    new DataView(i64.buffer).setBigInt64(8, 1n << 40n, true);
    expect(() => toInt32(i64, 'I64', 'f', 'k')).toThrow(/f: tensor "k": element 1/);
    expect([...toInt32(new Uint8Array([0, 1, 255]), 'U8')]).toEqual([0, 1, 255]);
    expect([...toFloat32(new Uint8Array([0, 1]), 'BOOL')]).toEqual([0, 1]);
    // e5m2 is the top byte of float16: 0x3c → 1.0; e4m3fn 0x38 → 1.0, 0x7e → 448, 0x7f → NaN.
    expect([...toFloat32(new Uint8Array([0x3c, 0xc0]), 'F8_E5M2')]).toEqual([1, -2]);
    const e4 = toFloat32(new Uint8Array([0x38, 0x7e, 0x01, 0x7f]), 'F8_E4M3');
    expect([e4[0], e4[1], e4[2]]).toEqual([1, 448, 2 ** -9]);
    expect(e4[3]).toBeNaN();
  });
});

describe('float16 / bfloat16 conversions', () => {
  it('every finite float16 survives f16 → f32 → f16', () => {
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToF32(h);
      const ok = Number.isNaN(v) ? Number.isNaN(f16BitsToF32(f32ToF16Bits(v))) : f32ToF16Bits(v) === h;
      if (!ok) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('rounds to nearest even, saturates to infinity, keeps subnormals', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e9)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -24)).toBe(1);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal → 0
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(1);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(2); // tie → even
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the normals
    expect(f32ToF16Bits(-0)).toBe(0x8000);
  });

  it('bfloat16 rounds to nearest even and keeps NaN', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16Bits(-2)).toBe(0xc000);
    expect(f32ToBf16Bits(Number.POSITIVE_INFINITY)).toBe(0x7f80);
    const nan = f32ToBf16Bits(Number.NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
  });
});

describe('safetensors header validation names the file and the tensor', () => {
  const t = (dtype: string, shape: number[], begin: number, end: number) =>
    `{"dtype":"${dtype}","shape":[${shape}],"data_offsets":[${begin},${end}]}`;
  const data16 = new Uint8Array(16);

  it('accepts a well-formed hand-crafted file in any key order', () => {
    const h = parseSafetensors(
      craft(`{"b":${t('F32', [2], 8, 16)},"a":${t('F32', [2], 0, 8)}}`, data16),
      'ok',
    );
    expect([...h.tensors.keys()]).toEqual(['a', 'b']);
    expect(h.metadata).toBeNull();
  });

  it('refuses files too short, header lengths past the end or over the limit', () => {
    expectFormatError(
      () => parseSafetensors(new Uint8Array(5), 'short.safetensors'),
      'short.safetensors',
      '5 bytes',
    );
    const past = concat(u64le(1000), enc.encode('{}      '));
    expectFormatError(() => parseSafetensors(past, 'cut.safetensors'), 'cut.safetensors', 'past the end');
    const huge = concat(u64le(2 ** 40), new Uint8Array(8));
    expectFormatError(() => parseSafetensors(huge, 'huge.safetensors'), 'huge.safetensors', 'limit');
  });

  it('refuses headers that are not UTF-8 JSON objects', () => {
    expectFormatError(
      () => parseSafetensors(craft('{"a": '), 'bad.safetensors'),
      'bad.safetensors',
      'not valid JSON',
    );
    expectFormatError(() => parseSafetensors(craft('[1,2,3] '), 'arr.safetensors'), 'arr.safetensors', '"{"');
    const notUtf8 = concat(u64le(8), new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 32, 32, 32, 32]));
    expectFormatError(() => parseSafetensors(notUtf8, 'bin.safetensors'), 'bin.safetensors', 'UTF-8');
  });

  it('refuses unknown dtypes, bad shapes and bad offsets, naming the tensor', () => {
    const cases: [string, Uint8Array, string[]][] = [
      ['dtype', craft(`{"w":${t('F33', [4], 0, 16)}}`, data16), ['"w"', 'unknown dtype "F33"']],
      ['shape', craft(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,16]}}`, data16), ['"w"', 'shape']],
      [
        'offsets',
        craft(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0]}}`, data16),
        ['"w"', 'data_offsets'],
      ],
      ['size', craft(`{"w":${t('F32', [3], 0, 16)}}`, data16), ['"w"', 'needs 12 bytes', 'span 16']],
      ['reversed', craft(`{"w":${t('F32', [0], 16, 0)}}`, data16), ['"w"', 'end before']],
      [
        'past end',
        craft(`{"w":${t('F32', [8], 0, 32)}}`, data16),
        ['"w"', 'past the data section (16 bytes)'],
      ],
      [
        'overlap',
        craft(`{"a":${t('F32', [3], 0, 12)},"b":${t('F32', [2], 8, 16)}}`, data16),
        ['"b"', 'overlap tensor "a"'],
      ],
      ['gap', craft(`{"a":${t('F32', [1], 0, 4)},"b":${t('F32', [2], 8, 16)}}`, data16), ['[4, 8)', '"b"']],
      ['trailing', craft(`{"a":${t('F32', [2], 0, 8)}}`, data16), ['8 of', '16 bytes']],
      ['metadata', craft(`{"__metadata__":{"n":1}}`), ['__metadata__["n"]', 'string']],
    ];
    for (const [what, file, parts] of cases) {
      let err: unknown;
      try {
        parseSafetensors(file, `${what}.safetensors`);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(FormatError);
      for (const p of [`${what}.safetensors`, ...parts]) expect((err as Error).message, what).toContain(p);
    }
  });

  it('validates through the lazy API before reading any tensor', async () => {
    const bad = craft(`{"w":${t('F32', [8], 0, 32)}}`, data16);
    let dataReads = 0;
    const src: ByteSource = {
      name: 'lazy-bad.safetensors',
      size: bad.length,
      read: (b, e) => {
        if (b >= 16) dataReads++;
        return Promise.resolve(bad.subarray(b, e));
      },
    };
    await expectFormatErrorAsync(SafetensorsFile.open(src), 'lazy-bad.safetensors', '"w"');
    expect(dataReads).toBe(0);
  });
});

describe('sharded checkpoints', () => {
  const shard1 = writeSafetensors({
    'model.embed_tokens.weight': { dtype: 'F32', shape: [2, 2], data: [1, 2, 3, 4] },
    'model.norm.weight': { dtype: 'F32', shape: [2], data: [5, 6] },
  });
  const shard2 = writeSafetensors({
    'lm_head.weight': { dtype: 'BF16', shape: [2, 2], data: [1, -1, 2, -2] },
  });
  const files = new Map([
    ['model-00001-of-00002.safetensors', shard1],
    ['model-00002-of-00002.safetensors', shard2],
  ]);
  const opener = (name: string) => {
    const b = files.get(name);
    if (!b) throw new Error('no such file');
    return bytesSource(b, name);
  };
  const index = {
    metadata: { total_size: 32 },
    weight_map: {
      'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
      'model.norm.weight': 'model-00001-of-00002.safetensors',
      'lm_head.weight': 'model-00002-of-00002.safetensors',
    },
  };

  it('resolves every key to its shard', async () => {
    const idx = parseShardIndex(JSON.stringify(index, null, 2));
    expect(idx.shards).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(idx.metadata.total_size).toBe(32);
    const st = await ShardedSafetensors.open(idx, opener);
    expect(st.keys().sort()).toEqual(Object.keys(index.weight_map).sort());
    expect(st.fileOf('lm_head.weight')).toBe('model-00002-of-00002.safetensors');
    expect(st.info('lm_head.weight').dtype).toBe('BF16');
    expect([...(await st.readF32('lm_head.weight'))]).toEqual([1, -1, 2, -2]);
    expect([...(await st.readF32('model.norm.weight'))]).toEqual([5, 6]);
    expect(() => st.info('nope')).toThrow(/model\.safetensors\.index\.json.*"nope"/);
  });

  it('refuses an index that names a key its shard lacks, or a shard that is missing', async () => {
    const wrong = {
      weight_map: { ...index.weight_map, 'model.norm.weight': 'model-00002-of-00002.safetensors' },
    };
    await expectFormatErrorAsync(
      ShardedSafetensors.open(parseShardIndex(JSON.stringify(wrong)), opener),
      'model.safetensors.index.json',
      '"model.norm.weight"',
      'model-00002-of-00002.safetensors',
    );
    const missing = { weight_map: { ...index.weight_map, extra: 'model-00003-of-00003.safetensors' } };
    await expectFormatErrorAsync(
      ShardedSafetensors.open(parseShardIndex(JSON.stringify(missing)), opener),
      'cannot open shard "model-00003-of-00003.safetensors"',
    );
  });

  it('refuses malformed index files with the line and column or the key', () => {
    expectFormatError(
      () => parseShardIndex('{\n  "weight_map": {\n    "a": 1,,\n  }\n}'),
      'index.json',
      'line 3',
    );
    expectFormatError(() => parseShardIndex('{"metadata": {}}'), '"weight_map"');
    expectFormatError(
      () => parseShardIndex('{"weight_map": {"a": "../x.safetensors"}}'),
      'weight_map["a"]',
      'plain',
    );
  });
});
