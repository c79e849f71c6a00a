// Reads back the parts of an ONNX ModelProto that this exporter writes: versions, graph inputs and
// outputs with their shapes, nodes (op and wiring) and initializers (dims, type, raw bytes). The tests
// use it to check the exporter's output structurally; the playground can show op counts and sizes from
// it. It is not a general ONNX parser: fields the exporter never writes (float_data, external data,
// subgraphs) are skipped.

import { readFields, type WireField } from './proto';

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  shape: (number | string)[];
}

export interface OnnxNodeInfo {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  /** Attribute names → INT/INTS/FLOAT values (the only kinds the exporter writes). */
  attrs: Record<string, number | number[]>;
}

export interface OnnxInitializerInfo {
  name: string;
  dims: number[];
  dataType: number;
  raw: Uint8Array;
}

export interface OnnxSummary {
  irVersion: number;
  opset: number;
  producer: string;
  graphName: string;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodes: OnnxNodeInfo[];
  initializers: OnnxInitializerInfo[];
  metadata: Record<string, string>;
  /** Node count per op type. */
  opCounts: Record<string, number>;
  /** Bytes of initializer data. */
  weightBytes: number;
}

const utf8 = new TextDecoder();
const str = (f: WireField) => utf8.decode(f.bytes ?? new Uint8Array());
const sub = (f: WireField) => readFields(f.bytes ?? new Uint8Array());
const int = (f: WireField) => Number(BigInt.asIntN(64, f.int ?? 0n));

function valueInfo(fields: WireField[]): OnnxValueInfo {
  const out: OnnxValueInfo = { name: '', elemType: 0, shape: [] };
  for (const f of fields) {
    if (f.field === 1) out.name = str(f);
    if (f.field !== 2) continue;
    for (const tf of sub(f)) {
      if (tf.field !== 1) continue; // TypeProto.tensor_type
      for (const tt of sub(tf)) {
        if (tt.field === 1) out.elemType = int(tt);
        if (tt.field !== 2) continue;
        for (const dim of sub(tt)) {
          for (const df of sub(dim)) {
            if (df.field === 1) out.shape.push(int(df));
            if (df.field === 2) out.shape.push(str(df));
          }
        }
      }
    }
  }
  return out;
}

function node(fields: WireField[]): OnnxNodeInfo {
  const n: OnnxNodeInfo = { op: '', name: '', inputs: [], outputs: [], attrs: {} };
  for (const f of fields) {
    if (f.field === 1) n.inputs.push(str(f));
    else if (f.field === 2) n.outputs.push(str(f));
    else if (f.field === 3) n.name = str(f);
    else if (f.field === 4) n.op = str(f);
    else if (f.field === 5) {
      let name = '';
      let value: number | number[] = [];
      for (const a of sub(f)) {
        if (a.field === 1) name = str(a);
        else if (a.field === 2 && a.bytes)
          value = new DataView(a.bytes.buffer, a.bytes.byteOffset, 4).getFloat32(0, true);
        else if (a.field === 3) value = int(a);
        else if (a.field === 8) (value as number[]).push(int(a));
      }
      n.attrs[name] = value;
    }
  }
  return n;
}

function initializer(fields: WireField[]): OnnxInitializerInfo {
  const t: OnnxInitializerInfo = { name: '', dims: [], dataType: 0, raw: new Uint8Array() };
  for (const f of fields) {
    if (f.field === 1) t.dims.push(int(f));
    else if (f.field === 2) t.dataType = int(f);
    else if (f.field === 8) t.name = str(f);
    else if (f.field === 9) t.raw = f.bytes ?? new Uint8Array();
  }
  return t;
}

/** Parses an exported model; throws on malformed protobuf with the byte offset. */
export function inspectOnnx(bytes: Uint8Array): OnnxSummary {
  const s: OnnxSummary = {
    irVersion: 0,
    opset: 0,
    producer: '',
    graphName: '',
    inputs: [],
    outputs: [],
    nodes: [],
    initializers: [],
    metadata: {},
    opCounts: {},
    weightBytes: 0,
  };
  for (const f of readFields(bytes)) {
    if (f.field === 1) s.irVersion = int(f);
    else if (f.field === 2) s.producer = str(f);
    else if (f.field === 8) {
      for (const o of sub(f)) if (o.field === 2) s.opset = int(o);
    } else if (f.field === 14) {
      let k = '';
      let v = '';
      for (const e of sub(f)) {
        if (e.field === 1) k = str(e);
        if (e.field === 2) v = str(e);
      }
      s.metadata[k] = v;
    } else if (f.field === 7) {
      for (const gf of sub(f)) {
        if (gf.field === 1) s.nodes.push(node(sub(gf)));
        else if (gf.field === 2) s.graphName = str(gf);
        else if (gf.field === 5) s.initializers.push(initializer(sub(gf)));
        else if (gf.field === 11) s.inputs.push(valueInfo(sub(gf)));
        else if (gf.field === 12) s.outputs.push(valueInfo(sub(gf)));
      }
    }
  }
  for (const n of s.nodes) s.opCounts[n.op] = (s.opCounts[n.op] ?? 0) + 1;
  s.weightBytes = s.initializers.reduce((a, t) => a + t.raw.length, 0);
  return s;
}
