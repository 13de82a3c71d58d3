import type { Range } from './calibrate.js';
import {
  dimsOf,
  floatTensor,
  floatValues,
  int32Tensor,
  int8Tensor,
  intAttribute,
  node,
  uint8Tensor,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from './onnx-model.js';

/** Convs whose weight is a float initializer: the ops this quantiser turns into int8 (everything else stays fp32). */
export function quantizableConvs(graph: GraphProto, keepFloat: ReadonlySet<string> = new Set()): NodeProto[] {
  const floats = new Set(graph.initializer.filter((t) => t.dataType === 1).map((t) => t.name));
  return graph.node.filter(
    (n) => n.opType === 'Conv' && !keepFloat.has(n.name) && floats.has(n.input[1]) && (n.input.length < 3 || n.input[2] === '' || floats.has(n.input[2])),
  );
}

/**
 * Convs that read or write fewer channels than this stay fp32 whatever their sensitivity: onnxruntime's int8 conv is
 * an im2col + GEMM whose width is the output channels, so an RGB-facing conv is far slower in int8 than its fp32
 * NCHWc kernel. Measured (`profile-style.ts`, NODES=…, 1024×720, busy box): AnimeGANv3 Cute's output conv 16→3 7×7
 * 1676 ms int8 against 318 ms fp32, its input conv 3→16 7×7 354 against 131; v3 Hayao's output conv 128→12 470
 * against 278, its input conv 3→32 221 against 148. 16→16 convs ran about even.
 */
export const MIN_INT8_CONV_CHANNELS = 16;

/** Quantisable convs with fewer than MIN_INT8_CONV_CHANNELS input or output channels (see there). */
export function narrowConvs(graph: GraphProto): string[] {
  const weights = new Map(graph.initializer.map((t) => [t.name!, t]));
  return quantizableConvs(graph)
    .filter((conv) => {
      const [out, inPerGroup] = dimsOf(weights.get(conv.input[1])!);
      const group = intAttribute(conv, 'group') ?? 1;
      return out < MIN_INT8_CONV_CHANNELS || inPerGroup * group < MIN_INT8_CONV_CHANNELS;
    })
    .map((conv) => conv.name);
}

/** The activations to calibrate: each quantisable conv's input and output, never a graph output. */
export function activationsToQuantize(graph: GraphProto, keepFloat?: ReadonlySet<string>): string[] {
  const graphOutputs = new Set(graph.output.map((o) => o.name));
  const names = new Set<string>();
  for (const conv of quantizableConvs(graph, keepFloat)) {
    names.add(conv.input[0]);
    if (!graphOutputs.has(conv.output[0])) names.add(conv.output[0]);
  }
  return [...names];
}

/** Asymmetric uint8 parameters covering the range and zero (zero must be exact: convs pad with it). */
export function uint8Params(r: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, r.min);
  const hi = Math.max(0, r.max);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}

/** Symmetric per-output-channel int8 weights (axis 0), range ±127. */
export function quantizeWeightsPerChannel(w: Float32Array, channels: number): { q: Int8Array; scales: Float32Array } {
  const per = w.length / channels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let maxAbs = 0;
    for (let i = c * per; i < (c + 1) * per; i++) maxAbs = Math.max(maxAbs, Math.abs(w[i]));
    const s = maxAbs > 0 ? maxAbs / 127 : 1;
    scales[c] = s;
    for (let i = c * per; i < (c + 1) * per; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / s)));
  }
  return { q, scales };
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * Static QDQ quantisation in onnxruntime's format: each conv activation gets QuantizeLinear → DequantizeLinear
 * (uint8, from the calibrated range), each conv weight is stored int8 per channel behind a DequantizeLinear, and
 * each bias int32 with scale input_scale × weight_scale — the pattern onnxruntime fuses into QLinearConv.
 * Norms, pads, resizes and element-wise ops stay float. Mutates and returns the graph.
 */
export function insertQdq(graph: GraphProto, ranges: Map<string, Range>, keepFloat?: ReadonlySet<string>): GraphProto {
  const initializers = new Map(graph.initializer.map((t) => [t.name!, t]));
  const added: TensorProto[] = [];
  const activation = new Map<string, { scale: number; zeroPoint: number }>();
  for (const name of activationsToQuantize(graph, keepFloat)) activation.set(name, uint8Params(ranges.get(name)!));

  const qdqNodes = (name: string): NodeProto[] => {
    const p = activation.get(name)!;
    added.push(floatTensor(`${name}__scale`, [], Float32Array.of(p.scale)), uint8Tensor(`${name}__zp`, [], Uint8Array.of(p.zeroPoint)));
    return [
      node('QuantizeLinear', `${name}__Q`, [name, `${name}__scale`, `${name}__zp`], [`${name}__q`]),
      node('DequantizeLinear', `${name}__DQ`, [`${name}__q`, `${name}__scale`, `${name}__zp`], [`${name}__dq`]),
    ];
  };

  const convWeights = new Map<NodeProto, NodeProto[]>();
  for (const conv of quantizableConvs(graph, keepFloat)) {
    const inputScale = activation.get(conv.input[0])?.scale;
    if (inputScale === undefined) continue;
    const wInit = initializers.get(conv.input[1])!;
    const wDims = dimsOf(wInit);
    const { q, scales } = quantizeWeightsPerChannel(floatValues(wInit), wDims[0]);
    const w = `${conv.name}__W`;
    added.push(int8Tensor(`${w}_q`, wDims, q), floatTensor(`${w}_scale`, [wDims[0]], scales), int8Tensor(`${w}_zp`, [wDims[0]], new Int8Array(wDims[0])));
    const nodes = [node('DequantizeLinear', `${w}_DQ`, [`${w}_q`, `${w}_scale`, `${w}_zp`], [`${w}_dq`], [{ name: 'axis', i: 0 }])];
    const inputs = [conv.input[0], `${w}_dq`];
    if (conv.input.length > 2 && conv.input[2] !== '') {
      const b = floatValues(initializers.get(conv.input[2])!);
      const bScale = scales.map((s) => s * inputScale);
      const bq = Int32Array.from(b, (v, c) => Math.max(-INT32_MAX, Math.min(INT32_MAX, Math.round(v / bScale[c]))));
      const bn = `${conv.name}__B`;
      added.push(int32Tensor(`${bn}_q`, [b.length], bq), floatTensor(`${bn}_scale`, [b.length], bScale), int32Tensor(`${bn}_zp`, [b.length], new Int32Array(b.length)));
      nodes.push(node('DequantizeLinear', `${bn}_DQ`, [`${bn}_q`, `${bn}_scale`, `${bn}_zp`], [`${bn}_dq`], [{ name: 'axis', i: 0 }]));
      inputs.push(`${bn}_dq`);
    }
    conv.input = inputs;
    convWeights.set(conv, nodes);
  }

  const redirect = (n: NodeProto): NodeProto => {
    n.input = n.input.map((i) => (activation.has(i) ? `${i}__dq` : i));
    return n;
  };
  const graphInputs = new Set(graph.input.map((i) => i.name));
  const out: NodeProto[] = [...activation.keys()].filter((t) => graphInputs.has(t)).flatMap(qdqNodes);
  for (const n of graph.node) {
    out.push(...(convWeights.get(n) ?? []), redirect(n));
    for (const o of n.output) if (activation.has(o)) out.push(...qdqNodes(o));
  }
  graph.node = out;

  const used = new Set(out.flatMap((n) => n.input));
  graph.initializer = [...graph.initializer.filter((t) => used.has(t.name!)), ...added];
  return graph;
}
