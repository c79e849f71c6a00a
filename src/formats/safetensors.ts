// safetensors: header parsing and validation, lazy tensor reads from any byte source (a Uint8Array
// in Node, a Blob/File in the browser via blob.slice), dtype conversion to Float32Array/Int32Array,
// and writing (F32, F16, BF16, I32) byte-for-byte as the reference implementation lays files out.
// Sharded checkpoints (model.safetensors.index.json) live in sharded.ts; reading a file by path in
// Node lives in node-source.ts so this file stays importable in the browser.
//
// Format (little-endian throughout): u64 N, then N bytes of UTF-8 JSON
// {"__metadata__": {str: str}?, key: {"dtype", "shape", "data_offsets": [begin, end]}...}, then the
// data section. Offsets are relative to the data section; the tensors must tile it exactly.
// Everything about the header is validated before any tensor byte is read or allocated, so a bad or
// truncated download fails in the first kilobytes with the file and the tensor named.
import { halfBits, halfValue } from '../util/f16';
import { FormatError, isRecord } from './errors';

/** Element types of the reference implementation that occupy whole bytes. */
export type Dtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64';

// The reference's enum order ("increasing alignment"); its writer sorts by this, descending, then
// by name, and so do we, so that files we write are byte-identical to the Python package's.
const DTYPE_ORDER: readonly Dtype[] = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
];

export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s);
}

/** The reference rejects headers above 100 MB; so do we, before reading them. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly key: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly numel: number;
  /** Byte offsets relative to the start of the data section. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly file: string;
  /** N: the JSON header's length in bytes (padding included). */
  readonly headerLength: number;
  /** 8 + N: where the data section starts in the file. */
  readonly dataStart: number;
  readonly fileSize: number;
  readonly metadata: Readonly<Record<string, string>> | null;
  /** Every tensor, in data-section order. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation

/** Reads and checks N from the file's first 8 bytes. */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new FormatError(
      file,
      `is ${fileSize} bytes; a safetensors file starts with an 8-byte header length`,
    );
  }
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new FormatError(
      file,
      `header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`,
    );
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw new FormatError(
      file,
      `header length ${len} runs past the end of the file (${fileSize} bytes): truncated or not a safetensors file`,
    );
  }
  if (len < 2) throw new FormatError(file, `header length ${len} is too small for a JSON object`);
  return len;
}

function checkDims(v: unknown, file: string, key: string, field: string, count?: number): number[] {
  if (!Array.isArray(v) || (count !== undefined && v.length !== count)) {
    const want = count === undefined ? 'an array of integers' : `an array of ${count} integers`;
    throw new FormatError(file, `tensor "${key}": ${field} must be ${want}, got ${JSON.stringify(v)}`, key);
  }
  for (const x of v) {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
      throw new FormatError(
        file,
        `tensor "${key}": ${field} ${JSON.stringify(v)} must hold non-negative integers`,
        key,
      );
    }
  }
  return v as number[];
}

/**
 * Parses the N header bytes (those after the 8-byte length) of a file of `fileSize` bytes and
 * validates every tensor: known dtype, shape, byte size = numel·dtype size, offsets ordered and
 * inside the data section, and the tensors tiling the data section with no gap and no overlap.
 */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const headerLength = headerBytes.length;
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  if (dataSize < 0) throw new FormatError(file, `header runs past the end of the file (${fileSize} bytes)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new FormatError(file, 'header is not valid UTF-8 (not a safetensors file?)');
  }
  if (!text.startsWith('{')) {
    throw new FormatError(file, 'header does not start with "{" (not a safetensors file?)');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, `header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isRecord(json)) throw new FormatError(file, 'header must be a JSON object');

  let metadata: Record<string, string> | null = null;
  const infos: TensorInfo[] = [];
  for (const [key, entry] of Object.entries(json)) {
    if (key === '__metadata__') {
      if (!isRecord(entry)) throw new FormatError(file, '__metadata__ must be an object of strings', key);
      for (const [mk, mv] of Object.entries(entry)) {
        if (typeof mv !== 'string') {
          throw new FormatError(
            file,
            `__metadata__["${mk}"] must be a string, got ${JSON.stringify(mv)}`,
            key,
          );
        }
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!isRecord(entry)) throw new FormatError(file, `tensor "${key}": entry must be an object`, key);
    const dtype = entry.dtype;
    if (!isDtype(dtype)) {
      throw new FormatError(
        file,
        `tensor "${key}": unknown dtype ${JSON.stringify(dtype)} (known: ${DTYPE_ORDER.join(', ')})`,
        key,
      );
    }
    const shape = checkDims(entry.shape, file, key, 'shape');
    const [begin, end] = checkDims(entry.data_offsets, file, key, 'data_offsets', 2);
    if (end < begin) {
      throw new FormatError(
        file,
        `tensor "${key}": data_offsets [${begin}, ${end}] end before they begin`,
        key,
      );
    }
    if (end > dataSize) {
      throw new FormatError(
        file,
        `tensor "${key}": data_offsets [${begin}, ${end}] run past the data section (${dataSize} bytes): truncated file?`,
        key,
      );
    }
    let numel = 1;
    for (const d of shape) numel *= d;
    const bytes = numel * DTYPE_SIZE[dtype];
    if (!Number.isSafeInteger(bytes)) {
      throw new FormatError(file, `tensor "${key}": shape [${shape}] is too large`, key);
    }
    if (bytes !== end - begin) {
      throw new FormatError(
        file,
        `tensor "${key}": shape [${shape}] of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
        key,
      );
    }
    infos.push({ key, dtype, shape, numel, begin, end });
  }

  // The reference sorts by (begin, end) and demands that each tensor start where the previous
  // one ended and that the last one end at the end of the file.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: TensorInfo | null = null;
  for (const t of infos) {
    if (t.begin < pos) {
      throw new FormatError(
        file,
        `tensor "${t.key}": data_offsets [${t.begin}, ${t.end}] overlap tensor "${prev?.key}" [${prev?.begin}, ${prev?.end}]`,
        t.key,
      );
    }
    if (t.begin > pos) {
      throw new FormatError(
        file,
        `data bytes [${pos}, ${t.begin}) before tensor "${t.key}" belong to no tensor`,
        t.key,
      );
    }
    pos = t.end;
    prev = t;
  }
  if (pos !== dataSize) {
    throw new FormatError(
      file,
      `the tensors cover ${pos} of the data section's ${dataSize} bytes; bytes [${pos}, ${dataSize}) belong to no tensor`,
    );
  }
  const tensors = new Map<string, TensorInfo>();
  for (const t of infos) tensors.set(t.key, t);
  return { file, headerLength, dataStart, fileSize, metadata, tensors };
}

/** Parses the header of a whole file held in memory. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsHeader {
  const n = readHeaderLength(bytes, bytes.length, file);
  return parseHeader(bytes.subarray(8, 8 + n), bytes.length, file);
}

// ---------------------------------------------------------------------------------------------
// Byte sources: where a file's bytes come from, read by range so that nothing but the header is
// read until a tensor is asked for.

export interface ByteSource {
  readonly name: string;
  readonly size: number;
  /** Bytes [begin, end) of the file. The result may share memory with the source: don't write it. */
  read(begin: number, end: number): Promise<Uint8Array>;
}

/** A file already in memory (Node tests, fetched ArrayBuffers). Reads are views, not copies. */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  return {
    name,
    size: bytes.length,
    read: (begin, end) => Promise.resolve(bytes.subarray(begin, end)),
  };
}

/** A Blob or File (browser drop/picker, Cache API responses): reads slice lazily. */
export function blobSource(blob: Blob, name?: string): ByteSource {
  const fileName = name ?? ('name' in blob && typeof blob.name === 'string' ? blob.name : 'blob');
  return {
    name: fileName,
    size: blob.size,
    read: async (begin, end) => new Uint8Array(await blob.slice(begin, end).arrayBuffer()),
  };
}

// ---------------------------------------------------------------------------------------------
// Conversions. Hosts are little-endian in practice (x86, ARM); the DataView path keeps a
// big-endian host correct rather than fast.

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16Table: Float32Array | null = null;

/** float16 bits → float32 value (exact). */
export const f16BitsToF32 = halfValue;

// 256 KB, built once: converting a checkpoint is then one table lookup per element.
function halfTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 value → float16 bits, round to nearest even; overflow → ±inf, NaN kept. */
export const f32ToF16Bits = halfBits;

/** float32 value → bfloat16 bits, round to nearest even; NaN stays NaN. */
export function f32ToBf16Bits(x: number): number {
  scratchF32[0] = x;
  const b = scratchU32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return ((b >>> 16) | 0x40) & 0xffff;
  const lsb = (b >>> 16) & 1;
  return Math.floor((b + 0x7fff + lsb) / 65536) & 0xffff;
}

function f8e4m3ToF32(v: number): number {
  // The "fn" variant torch uses: bias 7, no infinities, 0x7f/0xff are NaN.
  const sign = v & 0x80 ? -1 : 1;
  const e = (v >> 3) & 0xf;
  const m = v & 7;
  if (e === 15 && m === 7) return Number.NaN;
  if (e === 0) return sign * m * 2 ** -9;
  return sign * (1 + m / 8) * 2 ** (e - 7);
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Converts one tensor's bytes to float32 (lossy for F64 and large integers, as a cast would be). */
export function toFloat32(bytes: Uint8Array, dtype: Dtype, file = 'tensor', key = ''): Float32Array {
  const n = bytes.length / DTYPE_SIZE[dtype];
  if (!Number.isInteger(n)) {
    throw new FormatError(
      file,
      `tensor "${key}": ${bytes.length} bytes is not a whole number of ${dtype}`,
      key,
    );
  }
  const dv = dataView(bytes);
  // One copy: slice() gives an aligned buffer of our own that the Float32Array takes over.
  if (dtype === 'F32' && LITTLE_ENDIAN) return new Float32Array(bytes.slice().buffer);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case 'F16': {
      const t = halfTable();
      for (let i = 0; i < n; i++) out[i] = t[dv.getUint16(2 * i, true)];
      return out;
    }
    case 'BF16': {
      // bf16 is the top half of a float32: shift the bits into place (a Uint32Array over the
      // same buffer shares the host's byte order, so this holds on any host).
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    case 'F8_E5M2': {
      // e5m2 is the top byte of a float16.
      const t = halfTable();
      for (let i = 0; i < n; i++) out[i] = t[bytes[i] << 8];
      return out;
    }
    case 'F8_E4M3':
      for (let i = 0; i < n; i++) out[i] = f8e4m3ToF32(bytes[i]);
      return out;
    default: {
      const ints = toIntegers(bytes, dtype);
      for (let i = 0; i < n; i++) out[i] = ints(i);
      return out;
    }
  }
}

function toIntegers(bytes: Uint8Array, dtype: Dtype): (i: number) => number {
  const dv = dataView(bytes);
  switch (dtype) {
    case 'BOOL':
    case 'U8':
      return (i) => bytes[i];
    case 'I8':
      return (i) => dv.getInt8(i);
    case 'I16':
      return (i) => dv.getInt16(2 * i, true);
    case 'U16':
      return (i) => dv.getUint16(2 * i, true);
    case 'I32':
      return (i) => dv.getInt32(4 * i, true);
    case 'U32':
      return (i) => dv.getUint32(4 * i, true);
    case 'I64':
      return (i) => Number(dv.getBigInt64(8 * i, true));
    case 'U64':
      return (i) => Number(dv.getBigUint64(8 * i, true));
    default:
      throw new Error(`toIntegers: ${dtype} is not an integer dtype`);
  }
}

const INTEGER_DTYPES: ReadonlySet<Dtype> = new Set([
  'BOOL',
  'U8',
  'I8',
  'I16',
  'U16',
  'I32',
  'U32',
  'I64',
  'U64',
]);

/** Converts an integer tensor's bytes to int32; values outside int32 are an error, not a wrap. */
export function toInt32(bytes: Uint8Array, dtype: Dtype, file = 'tensor', key = ''): Int32Array {
  if (!INTEGER_DTYPES.has(dtype)) {
    throw new FormatError(file, `tensor "${key}" is ${dtype}; an integer tensor was expected`, key);
  }
  const n = bytes.length / DTYPE_SIZE[dtype];
  const get = toIntegers(bytes, dtype);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = get(i);
    if (v > 2147483647 || v < -2147483648) {
      throw new FormatError(file, `tensor "${key}": element ${i} = ${v} does not fit in int32`, key);
    }
    out[i] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** What the model loader reads checkpoints through: one file or a sharded set, alike. */
export interface TensorReader {
  keys(): string[];
  has(key: string): boolean;
  info(key: string): TensorInfo;
  /** The file that holds `key` (for messages). */
  fileOf(key: string): string;
  readBytes(key: string): Promise<Uint8Array>;
  readF32(key: string): Promise<Float32Array>;
  readI32(key: string): Promise<Int32Array>;
}

export class SafetensorsFile implements TensorReader {
  readonly header: SafetensorsHeader;
  private readonly src: ByteSource;

  private constructor(src: ByteSource, header: SafetensorsHeader) {
    this.src = src;
    this.header = header;
  }

  /** Reads the first 8 bytes, then the header; no tensor data is read yet. */
  static async open(src: ByteSource): Promise<SafetensorsFile> {
    const prefix = await src.read(0, Math.min(8, src.size));
    const n = readHeaderLength(prefix, src.size, src.name);
    const headerBytes = await src.read(8, 8 + n);
    return new SafetensorsFile(src, parseHeader(headerBytes, src.size, src.name));
  }

  get name(): string {
    return this.src.name;
  }

  get metadata(): Readonly<Record<string, string>> | null {
    return this.header.metadata;
  }

  keys(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(key: string): boolean {
    return this.header.tensors.has(key);
  }

  info(key: string): TensorInfo {
    const t = this.header.tensors.get(key);
    if (!t) throw new FormatError(this.src.name, `has no tensor "${key}"`, key);
    return t;
  }

  fileOf(key: string): string {
    this.info(key);
    return this.src.name;
  }

  async readBytes(key: string): Promise<Uint8Array> {
    const t = this.info(key);
    const bytes = await this.src.read(this.header.dataStart + t.begin, this.header.dataStart + t.end);
    if (bytes.length !== t.end - t.begin) {
      throw new FormatError(
        this.src.name,
        `tensor "${key}": read ${bytes.length} of ${t.end - t.begin} bytes (file changed or truncated?)`,
        key,
      );
    }
    return bytes;
  }

  async readF32(key: string): Promise<Float32Array> {
    return toFloat32(await this.readBytes(key), this.info(key).dtype, this.src.name, key);
  }

  async readI32(key: string): Promise<Int32Array> {
    return toInt32(await this.readBytes(key), this.info(key).dtype, this.src.name, key);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

export type WritableDtype = 'F32' | 'F16' | 'BF16' | 'I32';

export interface TensorToWrite {
  dtype: WritableDtype;
  shape: readonly number[];
  /** Row-major values; for I32 every value must be an int32. */
  data: ArrayLike<number>;
}

// The reference compares names as UTF-8 bytes; UTF-16 order differs only above U+E000.
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function encodeTensor(name: string, t: TensorToWrite): Uint8Array {
  let numel = 1;
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new FormatError('safetensors writer', `tensor "${name}": bad shape [${t.shape}]`, name);
    }
    numel *= d;
  }
  if (t.data.length !== numel) {
    throw new FormatError(
      'safetensors writer',
      `tensor "${name}": shape [${t.shape}] holds ${numel} values but ${t.data.length} were given`,
      name,
    );
  }
  const out = new Uint8Array(numel * DTYPE_SIZE[t.dtype]);
  const dv = dataView(out);
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < numel; i++) dv.setFloat32(4 * i, t.data[i], true);
      break;
    case 'F16':
      for (let i = 0; i < numel; i++) dv.setUint16(2 * i, f32ToF16Bits(t.data[i]), true);
      break;
    case 'BF16':
      for (let i = 0; i < numel; i++) dv.setUint16(2 * i, f32ToBf16Bits(t.data[i]), true);
      break;
    case 'I32':
      for (let i = 0; i < numel; i++) {
        const v = t.data[i];
        if (!Number.isInteger(v) || v > 2147483647 || v < -2147483648) {
          throw new FormatError(
            'safetensors writer',
            `tensor "${name}": element ${i} = ${v} is not an int32`,
            name,
          );
        }
        dv.setInt32(4 * i, v, true);
      }
      break;
  }
  return out;
}

/**
 * Serialises tensors as the reference does: tensors ordered by dtype (widest first) then name,
 * compact JSON with `__metadata__` first (its keys sorted, for reproducible files), the header
 * padded with spaces to a multiple of 8 bytes so that every tensor's data is 8-byte aligned.
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  metadata?: Readonly<Record<string, string>> | null,
): Uint8Array<ArrayBuffer> {
  const entries: [string, TensorToWrite][] =
    tensors instanceof Map
      ? [...tensors.entries()]
      : Object.entries(tensors as Record<string, TensorToWrite>);
  for (const [name] of entries) {
    if (name === '__metadata__')
      throw new FormatError('safetensors writer', '"__metadata__" is reserved', name);
  }
  entries.sort(
    ([an, a], [bn, b]) => DTYPE_ORDER.indexOf(b.dtype) - DTYPE_ORDER.indexOf(a.dtype) || compareUtf8(an, bn),
  );
  const parts: string[] = [];
  if (metadata) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    parts.push(
      `"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(metadata[k]))}`).join(',')}}`,
    );
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const data = encodeTensor(name, t);
    // Built by hand, not JSON.stringify on an object: JS would move integer-like names first.
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + data.length}]}`,
    );
    offset += data.length;
    blobs.push(data);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const b of blobs) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}
