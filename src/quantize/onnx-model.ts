import { readFile, writeFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';

/** The ONNX protobuf schema (onnx-proto ships protobufjs static code generated from onnx.proto). */
export const onnx = onnxProto.onnx;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
/** The parts of the decoded messages this module touches, with protobufjs' always-present repeated fields. */
export interface NodeProto {
  opType: string;
  name: string;
  domain?: string | null;
  input: string[];
  output: string[];
  attribute: onnxProto.onnx.IAttributeProto[];
}
export interface GraphProto {
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
}
export interface ModelProto {
  graph: GraphProto;
  opsetImport: onnxProto.onnx.IOperatorSetIdProto[];
}
export const DataType = onnx.TensorProto.DataType;

export function decodeModel(bytes: Uint8Array): ModelProto {
  // Decoded repeated fields may share protobufjs' frozen empty array: callers reassign arrays, never push.
  return onnx.ModelProto.decode(bytes) as unknown as ModelProto;
}

export async function readModel(file: string): Promise<ModelProto> {
  return decodeModel(await readFile(file));
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model as onnxProto.onnx.IModelProto).finish();
}

export async function writeModel(model: ModelProto, file: string): Promise<void> {
  await writeFile(file, encodeModel(model));
}

export function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => Number(d));
}

/** A float tensor's values, whichever of raw_data / float_data holds them (always a fresh, aligned copy). */
export function floatValues(t: TensorProto): Float32Array {
  if (t.dataType !== DataType.FLOAT) throw new Error(`initializer ${t.name}: expected float, got data type ${t.dataType}`);
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function tensorOf(name: string, dataType: number, dims: number[], bytes: ArrayBufferView): TensorProto {
  return onnx.TensorProto.create({
    name,
    dataType,
    dims,
    rawData: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  });
}

export const floatTensor = (name: string, dims: number[], v: Float32Array) => tensorOf(name, DataType.FLOAT, dims, v);
export const int8Tensor = (name: string, dims: number[], v: Int8Array) => tensorOf(name, DataType.INT8, dims, v);
export const uint8Tensor = (name: string, dims: number[], v: Uint8Array) => tensorOf(name, DataType.UINT8, dims, v);
export const int32Tensor = (name: string, dims: number[], v: Int32Array) => tensorOf(name, DataType.INT32, dims, v);
export const int64Tensor = (name: string, dims: number[], v: BigInt64Array) => tensorOf(name, DataType.INT64, dims, v);

export function attribute(node: NodeProto, name: string) {
  return node.attribute.find((a) => a.name === name);
}

export function intsAttribute(node: NodeProto, name: string): number[] | undefined {
  const a = attribute(node, name);
  return a ? (a.ints ?? []).map((v) => Number(v)) : undefined;
}

export function stringAttribute(node: NodeProto, name: string): string | undefined {
  const a = attribute(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : undefined;
}

/** The node that produces each tensor. */
export function producers(nodes: NodeProto[]): Map<string, NodeProto> {
  const producer = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output) producer.set(o, n);
  return producer;
}

export function intAttribute(node: NodeProto, name: string): number | undefined {
  const a = attribute(node, name);
  return a ? Number(a.i) : undefined;
}

export function node(opType: string, name: string, inputs: string[], outputs: string[], attrs: { name: string; i?: number; ints?: number[] }[] = []): NodeProto {
  return {
    opType,
    name,
    input: inputs,
    output: outputs,
    attribute: attrs.map((a) =>
      a.ints
        ? onnx.AttributeProto.create({ name: a.name, type: onnx.AttributeProto.AttributeType.INTS, ints: a.ints })
        : onnx.AttributeProto.create({ name: a.name, type: onnx.AttributeProto.AttributeType.INT, i: a.i }),
    ),
  };
}

export function opsetVersion(model: ModelProto): number {
  const main = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return Number(main?.version ?? 0);
}

/** The Resize's integer factor on H and W, from constant scales or from sizes = Shape(input) × constant. */
export function resizeFactor(resize: NodeProto, producer: Map<string, NodeProto>, inits: Map<string, TensorProto>): number | undefined {
  const factors = (() => {
    const scales = inits.get(resize.input[2] ?? '');
    if (scales) return Array.from(floatValues(scales));
    const mul = producer.get(resize.input[3] ?? '');
    if (mul?.opType !== 'Mul' || producer.get(mul.input[0])?.opType !== 'Shape' || producer.get(mul.input[0])!.input[0] !== resize.input[0]) return undefined;
    const k = inits.get(mul.input[1]);
    if (!k?.rawData || k.dataType !== onnx.TensorProto.DataType.INT64) return undefined;
    const raw = new Uint8Array(k.rawData);
    return Array.from(new BigInt64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8), Number);
  })();
  if (!factors || factors.length !== 4 || factors[0] !== 1 || factors[1] !== 1 || factors[2] !== factors[3]) return undefined;
  const s = factors[2];
  return Number.isInteger(s) && s >= 1 ? s : undefined;
}
