import { attribute, DataType, floatValues, int64Tensor, intAttribute, intsAttribute, node, onnx, producers, type GraphProto, type NodeProto } from './onnx-model.js';

/**
 * Replaces every `ReduceMean(axes=[2,3], keepdims=1)` by the exactly equivalent `GlobalAveragePool`
 * (all ReduceMeans of these NCHW generators average a 4-D tensor over H,W). Why: with int8 convs onnxruntime
 * switches them to channels-last and pushes transposes through a ReduceMean over H,W, which cost more than the
 * int8 convs saved (measured on animeganv3: 3.3 s of 7.7 s); GlobalAveragePool is layout-aware and avoids it.
 * Returns how many nodes were rewritten.
 */
export function reduceMeanToGlobalAveragePool(graph: GraphProto): number {
  let count = 0;
  graph.node = graph.node.map((n) => {
    if (n.opType !== 'ReduceMean' || n.input.length !== 1) return n; // opset ≥ 18 axes-as-input form: left alone
    const axes = intsAttribute(n, 'axes');
    const keepdims = intAttribute(n, 'keepdims') ?? 1;
    if (keepdims !== 1 || !axes || axes.length !== 2 || axes[0] !== 2 || axes[1] !== 3) return n;
    count++;
    return node('GlobalAveragePool', `${n.name}/gap`, [n.input[0]], [n.output[0]]);
  });
  return count;
}

/** Producer of each tensor and the consumers of each tensor, for pattern matching. */
function graphIndex(graph: GraphProto) {
  const producer = producers(graph.node);
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node) for (const i of n.input) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const graphOutputs = new Set(graph.output.map((o) => o.name));
  /** The only consumer of a tensor that is not a graph output, if it has exactly one. */
  const soleConsumer = (tensor: string): NodeProto | undefined => {
    const c = consumers.get(tensor) ?? [];
    return c.length === 1 && !graphOutputs.has(tensor) ? c[0] : undefined;
  };
  return { producer, soleConsumer };
}

const otherInput = (n: NodeProto, tensor: string) => (n.input[0] === tensor ? n.input[1] : n.input[0]);

function constantEquals(graph: GraphProto, name: string, value: number): boolean {
  const t = graph.initializer.find((i) => i.name === name);
  return t !== undefined && t.dataType === DataType.FLOAT && floatValues(t).every((v) => v === value);
}

/**
 * AnimeGANv3's norm block `InstanceNorm(A) * sd + mean`, where sd and mean are per-channel statistics ([1,C,1,1]:
 * Sqrt of a variance, and a GlobalAveragePool/ReduceMean over H,W), becomes `InstanceNorm(A, scale=sd, bias=mean)`:
 * InstanceNormalization applies a per-channel scale and bias itself, so the full-size Mul and Add (two passes over
 * a float tensor per block, 13 blocks) go. Same arithmetic, only float rounding differs. The statistics must be
 * per channel for this, so only that producer pattern is matched. Returns how many blocks were folded.
 */
export function foldInstanceNormAffine(graph: GraphProto): number {
  const { producer, soleConsumer } = graphIndex(graph);
  const perChannelMean = (t: string) => {
    const p = producer.get(t);
    return p !== undefined && (p.opType === 'GlobalAveragePool' || isHwReduceMean(p));
  };
  const perChannelSd = (t: string) => {
    const sqrt = producer.get(t);
    const add = sqrt?.opType === 'Sqrt' ? producer.get(sqrt.input[0]) : undefined;
    return add?.opType === 'Add' && add.input.some(perChannelMean);
  };
  const flat = 'per_channel_flat_shape';
  const replaced = new Map<NodeProto, NodeProto[]>();
  const removed = new Set<NodeProto>();
  for (const norm of graph.node) {
    if (norm.opType !== 'InstanceNormalization' || !constantEquals(graph, norm.input[1], 1) || !constantEquals(graph, norm.input[2], 0)) continue;
    const mul = soleConsumer(norm.output[0]);
    if (mul?.opType !== 'Mul') continue;
    const sd = otherInput(mul, norm.output[0]);
    const add = soleConsumer(mul.output[0]);
    if (add?.opType !== 'Add' || !perChannelSd(sd)) continue;
    const mean = otherInput(add, mul.output[0]);
    if (!perChannelMean(mean)) continue;
    const epsilon = attribute(norm, 'epsilon')?.f ?? 1e-5;
    const affine = node('InstanceNormalization', `${norm.name}/affine`, [norm.input[0], `${norm.name}/scale`, `${norm.name}/bias`], [add.output[0]]);
    affine.attribute = [onnx.AttributeProto.create({ name: 'epsilon', type: onnx.AttributeProto.AttributeType.FLOAT, f: epsilon })];
    // Placed where the Add was: sd and mean are computed after the norm in the original order.
    replaced.set(add, [node('Reshape', `${norm.name}/scale`, [sd, flat], [`${norm.name}/scale`]), node('Reshape', `${norm.name}/bias`, [mean, flat], [`${norm.name}/bias`]), affine]);
    removed.add(norm).add(mul);
  }
  if (replaced.size === 0) return 0;
  graph.node = graph.node.flatMap((n) => replaced.get(n) ?? (removed.has(n) ? [] : [n]));
  const used = new Set(graph.node.flatMap((n) => n.input));
  graph.initializer = [...graph.initializer.filter((t) => used.has(t.name!)), int64Tensor(flat, [1], BigInt64Array.of(-1n))];
  return replaced.size;
}

function isHwReduceMean(n: NodeProto): boolean {
  if (n.opType !== 'ReduceMean' || n.input.length !== 1) return false;
  const axes = intsAttribute(n, 'axes');
  return (intAttribute(n, 'keepdims') ?? 1) === 1 && axes?.length === 2 && axes[0] === 2 && axes[1] === 3;
}

/**
 * In a QDQ graph, `Pad(reflect|edge) → QuantizeLinear` becomes `QuantizeLinear → Pad`: such a pad only copies
 * values, so padding the uint8 tensor gives the very same bytes while moving a quarter of the memory (and the Q
 * runs on the smaller, unpadded tensor). Constant pads are left alone (their pad value would need quantising).
 * Returns how many pads now run on uint8.
 */
export function quantizeBeforePad(graph: GraphProto): number {
  const { producer, soleConsumer } = graphIndex(graph);
  const moved = new Map<NodeProto, NodeProto>(); // pad → its quantize
  for (const q of graph.node) {
    if (q.opType !== 'QuantizeLinear') continue;
    const pad = producer.get(q.input[0]);
    if (pad?.opType !== 'Pad' || soleConsumer(pad.output[0]) !== q) continue;
    const mode = attribute(pad, 'mode')?.s;
    const modeName = mode ? new TextDecoder().decode(mode) : 'constant';
    if (modeName !== 'reflect' && modeName !== 'edge') continue;
    const padded = q.output[0];
    q.output = [`${pad.input[0]}__q_unpadded`];
    q.input = [pad.input[0], ...q.input.slice(1)];
    pad.input = [q.output[0], ...pad.input.slice(1)];
    pad.output = [padded];
    moved.set(pad, q);
  }
  const qs = new Set(moved.values());
  graph.node = graph.node.flatMap((n) => (qs.has(n) ? [] : moved.has(n) ? [moved.get(n)!, n] : [n]));
  return moved.size;
}
