// The protobuf wire format and the slice of the ONNX schema (onnx/onnx.proto, proto2) the exporter
// writes: ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto/TypeProto, and
// OperatorSetIdProto. Written by hand because the schema subset is small and the output is write-only:
// a protobuf library would bring a runtime, a .proto compiler step, or reflection for ~150 lines of
// varints. Messages are built as lists of byte chunks with known lengths, so weights (often most of the
// file) are referenced rather than copied until the single final concatenation.
// Also a minimal wire-format reader, used by the tests to parse the exporter's own output back.

/** A serialised message still in pieces: `len` is the sum of the chunks' lengths. */
export interface Msg {
  parts: Uint8Array[];
  len: number;
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const textEncoder = new TextEncoder();

/** Unsigned LEB128 of a non-negative integer, or the 10-byte two's complement form of a negative int64. */
export function varint(v: number | bigint): Uint8Array {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return Uint8Array.from(out);
}

/** Builds one message field by field. */
export class MsgWriter {
  private readonly parts: Uint8Array[] = [];
  private len = 0;

  private push(b: Uint8Array): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.len += b.length;
  }

  private tag(field: number, wire: number): void {
    this.push(varint((field << 3) | wire));
  }

  /** int32/int64/enum/bool field. Negative values take 10 bytes, as protobuf requires for int64. */
  int(field: number, v: number | bigint): this {
    if (typeof v === 'number' && !Number.isSafeInteger(v))
      throw new Error(`protobuf: ${v} is not an integer`);
    this.tag(field, WIRE_VARINT);
    this.push(varint(v));
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.push(varint(b.length));
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, textEncoder.encode(s));
  }

  message(field: number, m: Msg): this {
    this.tag(field, WIRE_LEN);
    this.push(varint(m.len));
    for (const p of m.parts) this.push(p);
    return this;
  }

  finish(): Msg {
    return { parts: this.parts, len: this.len };
  }
}

/** One contiguous buffer of a message (the only copy of the weights the exporter makes). */
export function concatMsg(m: Msg): Uint8Array {
  const out = new Uint8Array(m.len);
  let o = 0;
  for (const p of m.parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ONNX schema subset (field numbers from onnx.proto)

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export type AttrValue = number | bigint | string | readonly number[] | { float: number };

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name: string;
  attrs?: Readonly<Record<string, AttrValue>>;
}

export interface TensorSpec {
  name: string;
  dims: readonly number[];
  dataType: DataTypeId;
  /** Little-endian element bytes (TensorProto.raw_data). */
  raw: Uint8Array;
}

export interface ValueInfoSpec {
  name: string;
  elemType: DataTypeId;
  /** Each dimension a fixed size or a symbolic name ("batch", "sequence"). */
  shape: readonly (number | string)[];
}

export function tensorProto(t: TensorSpec): Msg {
  const w = new MsgWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, t.raw);
  return w.finish();
}

/** Integers are INT attributes (int64 on the wire); `{ float }` marks a FLOAT; arrays are INTS. */
function attributeProto(name: string, v: AttrValue): Msg {
  const w = new MsgWriter().string(1, name);
  if (typeof v === 'string') w.bytes(4, textEncoder.encode(v)).int(20, AttrType.STRING);
  else if (typeof v === 'number' || typeof v === 'bigint') w.int(3, v).int(20, AttrType.INT);
  else if (Array.isArray(v)) {
    for (const x of v as readonly number[]) w.int(8, x);
    w.int(20, AttrType.INTS);
  } else w.float(2, (v as { float: number }).float).int(20, AttrType.FLOAT);
  return w.finish();
}

export function nodeProto(n: NodeSpec): Msg {
  const w = new MsgWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) w.message(5, attributeProto(k, v));
  return w.finish();
}

export function valueInfoProto(v: ValueInfoSpec): Msg {
  const shape = new MsgWriter();
  for (const d of v.shape) {
    const dim = new MsgWriter();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim.finish());
  }
  const tensorType = new MsgWriter().int(1, v.elemType).message(2, shape.finish()).finish();
  const type = new MsgWriter().message(1, tensorType).finish();
  return new MsgWriter().string(1, v.name).message(2, type).finish();
}

export interface GraphSpec {
  name: string;
  nodes: readonly NodeSpec[];
  initializers: readonly TensorSpec[];
  inputs: readonly ValueInfoSpec[];
  outputs: readonly ValueInfoSpec[];
}

export interface ModelSpec {
  irVersion: number;
  opset: number;
  producerName: string;
  producerVersion: string;
  docString: string;
  graph: GraphSpec;
  metadata?: Readonly<Record<string, string>>;
}

export function modelProto(m: ModelSpec): Msg {
  const g = new MsgWriter();
  for (const n of m.graph.nodes) g.message(1, nodeProto(n));
  g.string(2, m.graph.name);
  for (const t of m.graph.initializers) g.message(5, tensorProto(t));
  for (const i of m.graph.inputs) g.message(11, valueInfoProto(i));
  for (const o of m.graph.outputs) g.message(12, valueInfoProto(o));
  const w = new MsgWriter()
    .int(1, m.irVersion)
    .string(2, m.producerName)
    .string(3, m.producerVersion)
    .string(6, m.docString)
    .message(7, g.finish())
    .message(8, new MsgWriter().string(1, '').int(2, m.opset).finish());
  for (const [k, v] of Object.entries(m.metadata ?? {}))
    w.message(14, new MsgWriter().string(1, k).string(2, v).finish());
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Reader: enough of the wire format to walk our own output in tests.

export interface WireField {
  field: number;
  wire: number;
  /** Varint value (as bigint: int64 fields may be negative or large). */
  int?: bigint;
  /** Length-delimited payload, or the 4/8 fixed bytes. */
  bytes?: Uint8Array;
}

/** Splits one message into its fields; throws with the byte offset on malformed input. */
export function readFields(buf: Uint8Array): WireField[] {
  const out: WireField[] = [];
  let o = 0;
  const readVarint = (): bigint => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (o >= buf.length) throw new Error(`protobuf: varint runs past the end at byte ${o}`);
      const b = buf[o++];
      x |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return x;
      shift += 7n;
      if (shift > 63n) throw new Error(`protobuf: varint longer than 10 bytes at byte ${o}`);
    }
  };
  while (o < buf.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wire = key & 7;
    const take = (n: number): Uint8Array => {
      if (o + n > buf.length) throw new Error(`protobuf: field ${field} runs past the end at byte ${o}`);
      const b = buf.subarray(o, o + n);
      o += n;
      return b;
    };
    if (wire === WIRE_VARINT) out.push({ field, wire, int: readVarint() });
    else if (wire === WIRE_LEN) out.push({ field, wire, bytes: take(Number(readVarint())) });
    else if (wire === WIRE_I32) out.push({ field, wire, bytes: take(4) });
    else if (wire === WIRE_I64) out.push({ field, wire, bytes: take(8) });
    else throw new Error(`protobuf: wire type ${wire} of field ${field} at byte ${o} is not supported`);
  }
  return out;
}
