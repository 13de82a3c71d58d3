/**
 * Runs a style generator's full-size tail in horizontal bands, so that its widest full-size tensors are never whole
 * in memory, with the same picture as one run over the whole image.
 *
 * Why: AnimeGAN v1 upsamples to the full size with 128 channels and runs three InstanceNorms there. At 1536×1152 one
 * such float tensor is 906 MB and onnxruntime holds two at once (an op's input and its output): 2.0 GB peak for one
 * pipeline. A band needs only a few rows of context (3×3 convs, a ×2 resize), but an InstanceNorm needs the mean and
 * variance of its channel over the whole image, so each norm gets a pass of its own over the bands that adds up those
 * sums; the next pass then normalises with them (a BatchNormalization fed those statistics in place of the norm). A
 * pass starts from the last tensor kept whole: the resize's input (small), or a norm's input where it is narrow
 * enough to keep (64 channels: 453 MB at 1536×1152); the 128-channel one is computed again instead.
 *
 * Cost, measured (v1 Paprika int8, 1536×1072, p50 of 3): 15.1 s whole, 23.5 s banded (1.54×): the 128-channel
 * stage is computed twice and each band carries a few rows of context. Peak RSS of one pipeline on the 12 MP photo:
 * 1.97–1.99 GB → 1.34–1.39 GB for the three v1 styles. So it is used only where the memory is at stake.
 *
 * The split is planned from the graph itself (planBandedTail), and only for a tail whose every op works row by row:
 * stride-1 convs, pads, element-wise ops, norms, one upsampling Resize with a shift-invariant coordinate mode.
 */
import * as ort from 'onnxruntime-node';
import {
  decodeModel,
  dimsOf,
  encodeModel,
  floatValues,
  int64Tensor,
  intAttribute,
  intsAttribute,
  node,
  onnx,
  opsetVersion,
  producers,
  resizeFactor,
  stringAttribute,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../quantize/onnx-model.js';

/** One pass over the bands: its sub-model, what it starts from and what it gives back. */
export interface BandPass {
  model: Uint8Array;
  /** Index into the plan's sources: the head's output (0) or a kept norm input. */
  source: number;
  /** Norms (indices into BandedPlan.norms) this pass applies with whole-image statistics given as inputs. */
  applies: number[];
  /** The norm whose input this pass sums up (absent for the final pass, which gives the model's output). */
  sums?: number;
  /** Whether the pass also gives back its band of that norm input, kept whole as the next source. */
  keeps: boolean;
  /** The output that band is (the norm input's name). */
  keptTensor?: string;
  /** Rows of context above and below a band, in source rows. */
  haloRows: number;
}

export interface BandNorm {
  name: string;
  channels: number;
  epsilon: number;
  gamma: Float32Array;
  beta: Float32Array;
}

export interface BandedPlan {
  /** The model from its input to the tail's first tensor (the upsampling Resize's input), run whole. */
  head: Uint8Array;
  passes: BandPass[];
  norms: BandNorm[];
  /** Output rows per row of the head's output (the Resize's factor). */
  scale: number;
  /** The widest tensor of the tail, in channels: what banding saves is this many full-size float planes. */
  widestChannels: number;
  outputName: string;
}

const ROW_LOCAL_OPS = new Set(['Pad', 'Conv', 'InstanceNormalization', 'LeakyRelu', 'Relu', 'Tanh', 'Sigmoid', 'Add', 'Mul', 'QuantizeLinear', 'DequantizeLinear', 'Shape', 'Resize', 'Transpose']);
/** A norm input with at most this many channels is kept whole between passes; a wider one is recomputed instead. */
const KEEP_MAX_CHANNELS = 64;
const SOURCE_INPUT = 'band_source';
const normMeanInput = (i: number) => `band_norm${i}_mean`;
const normVarInput = (i: number) => `band_norm${i}_var`;
const SUM = 'band_sum';
const SUM_SQ = 'band_sum_sq';

/**
 * A graph input or output's type; with `dims`, its shape too (a string is a symbolic dim). onnxruntime's layout
 * rewrites (NCHWc convs) need the rank and channels of a graph input: without them the bands ran at half speed.
 */
function valueInfo(name: string, elemType: number, dims?: (number | string)[]): ValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape } } });
}
const floatInfo = (name: string, dims?: (number | string)[]) => valueInfo(name, onnx.TensorProto.DataType.FLOAT, dims);

/** The nodes that compute `targets`, walking back until a tensor in `stops`, an initializer or a graph input. */
function closure(nodes: NodeProto[], targets: string[], stops: Set<string>, initializers: Set<string>): NodeProto[] {
  const producer = producers(nodes);
  const chosen = new Set<NodeProto>();
  const todo = [...targets];
  while (todo.length > 0) {
    const t = todo.pop()!;
    if (!t || stops.has(t) || initializers.has(t)) continue;
    const n = producer.get(t);
    if (!n || chosen.has(n)) continue;
    chosen.add(n);
    todo.push(...n.input);
  }
  // Keep the graph's own (topological) order.
  return nodes.filter((n) => chosen.has(n));
}

/** The inputs of `nodes` that none of them produces and that are not initializers: what the sub-graph needs fed. */
function freeInputs(nodes: NodeProto[], initializers: Set<string>): Set<string> {
  const produced = new Set(nodes.flatMap((n) => n.output));
  return new Set(nodes.flatMap((n) => n.input).filter((i) => i && !produced.has(i) && !initializers.has(i)));
}

function subModel(model: ModelProto, nodes: NodeProto[], inputs: ValueInfoProto[], outputs: ValueInfoProto[], extraInitializers: TensorProto[] = []): Uint8Array {
  const used = new Set(nodes.flatMap((n) => n.input));
  const graph: GraphProto = {
    ...model.graph,
    node: nodes,
    initializer: [...model.graph.initializer.filter((t) => used.has(t.name!)), ...extraInitializers],
    input: inputs,
    output: outputs,
  };
  (graph as { valueInfo?: unknown }).valueInfo = [];
  return encodeModel({ ...model, graph });
}

/** A conv's weight dims, the initializer itself or one dequantised by a DequantizeLinear node. */
function convWeightDims(conv: NodeProto, producer: Map<string, NodeProto>, inits: Map<string, TensorProto>): number[] | undefined {
  const w = conv.input[1];
  const direct = inits.get(w);
  if (direct) return dimsOf(direct);
  const dq = producer.get(w);
  const quantised = dq?.opType === 'DequantizeLinear' ? inits.get(dq.input[0]) : undefined;
  return quantised ? dimsOf(quantised) : undefined;
}

const convGroup = (conv: NodeProto) => intAttribute(conv, 'group') ?? 1;

/**
 * Plans the banded run of a style model, or says why it cannot be banded. The tail is what follows the model's last
 * Resize; the output must depend on the input only through that Resize's input.
 */
export function planBandedTail(bytes: Uint8Array): BandedPlan | string {
  const model = decodeModel(bytes);
  const g = model.graph;
  const inits = new Map(g.initializer.map((t) => [t.name!, t]));
  const initNames = new Set(inits.keys());
  const producer = producers(g.node);
  const outputName = g.output[0]?.name;
  const inputName = g.input.find((i) => !initNames.has(i.name!))?.name;
  if (!outputName || !inputName || g.output.length !== 1) return 'not one input and one output';
  const opset = opsetVersion(model);
  if (opset < 13) return 'opset below 13 (ReduceSum with axes as an input)';

  const resize = [...g.node].reverse().find((n) => n.opType === 'Resize');
  if (!resize) return 'no Resize';
  const mode = stringAttribute(resize, 'coordinate_transformation_mode') ?? 'half_pixel';
  if (mode !== 'asymmetric' && mode !== 'half_pixel') return `Resize mode ${mode} depends on the image size`;
  const scale = resizeFactor(resize, producer, inits);
  if (scale === undefined) return 'Resize factor not a constant integer';
  const tensorX = resize.input[0];

  const tail = closure(g.node, [outputName], new Set([tensorX]), initNames);
  const needs = freeInputs(tail, initNames);
  if (needs.size !== 1 || !needs.has(tensorX)) return `the tail needs more than the Resize input: ${[...needs].join(', ')}`;
  for (const n of tail) {
    if (!ROW_LOCAL_OPS.has(n.opType) || (n.domain && n.domain !== 'ai.onnx')) return `op ${n.opType} in the tail`;
    if (n.opType === 'Resize' && n !== resize) return 'two Resizes in the tail';
    if (n.opType === 'Conv' && ((intsAttribute(n, 'strides') ?? [1, 1]).some((s) => s !== 1) || (intsAttribute(n, 'dilations') ?? [1, 1]).some((d) => d !== 1)))
      return `strided or dilated conv ${n.name}`;
    if (n.opType === 'Transpose' && (n.output[0] !== outputName || intsAttribute(n, 'perm')?.join() !== '0,2,3,1')) return 'a Transpose other than the final NCHW→NHWC';
  }
  if (tail.find((n) => n.output[0] === outputName)?.opType !== 'Transpose') return 'output is not NHWC';

  const normNodes = tail.filter((n) => n.opType === 'InstanceNormalization');
  const norms: BandNorm[] = normNodes.map((n) => {
    const gamma = inits.get(n.input[1]);
    const beta = inits.get(n.input[2]);
    const eps = n.attribute.find((a) => a.name === 'epsilon');
    return {
      name: n.name,
      channels: gamma ? dimsOf(gamma)[0] : 0,
      epsilon: eps?.f ?? 1e-5,
      gamma: gamma ? floatValues(gamma) : new Float32Array(),
      beta: beta ? floatValues(beta) : new Float32Array(),
    };
  });
  if (norms.some((n) => n.channels === 0 || n.beta.length !== n.channels)) return 'a norm without constant scale and bias';

  let widestChannels = 0;
  for (const n of tail) {
    if (n.opType !== 'Conv') continue;
    const dims = convWeightDims(n, producer, inits);
    if (!dims || dims.length !== 4) return `conv ${n.name} without constant weights`;
    widestChannels = Math.max(widestChannels, dims[0], dims[1] * convGroup(n));
  }

  // The Resize input's channels: those of the first conv after it (through pads, resizes and element-wise ops).
  const firstConv = tail.find((n) => n.opType === 'Conv');
  const firstConvDims = firstConv && convWeightDims(firstConv, producer, inits);
  const xChannels = firstConvDims ? firstConvDims[1] * convGroup(firstConv!) : 0;
  if (!xChannels) return 'no conv in the tail';

  // Each norm's input is summed by a pass that starts from the last tensor kept whole; the norms between that
  // tensor and this one are applied with their (already known) whole-image statistics.
  // firstNorm: the first norm after the source (a kept norm input comes before its own norm).
  const sources: { tensor: string; firstNorm: number; channels: number }[] = [{ tensor: tensorX, firstNorm: 0, channels: xChannels }];
  const stopsAtConstants = new Set([...initNames, 'band_axis_w']);
  const passes: BandPass[] = [];
  const buildPass = (sums: number | undefined): BandPass => {
    const src = sources.length - 1;
    const { tensor: sourceTensor, firstNorm, channels: sourceChannels } = sources[src];
    const upTo = sums ?? norms.length;
    const applies = Array.from({ length: Math.max(0, upTo - firstNorm) }, (_, k) => firstNorm + k);
    // The norms applied here get their statistics fed in; the source becomes the graph input.
    const fromSource = (t: string) => (t === sourceTensor ? SOURCE_INPUT : t);
    const nodes: NodeProto[] = [];
    for (const n of tail) {
      const i = normNodes.indexOf(n);
      if (applies.includes(i)) {
        // InstanceNormalization with the whole image's mean and variance is BatchNormalization with those fed in.
        const bn = node('BatchNormalization', `${n.name}/band`, [fromSource(n.input[0]), n.input[1], n.input[2], normMeanInput(i), normVarInput(i)], [n.output[0]]);
        bn.attribute = [onnx.AttributeProto.create({ name: 'epsilon', type: onnx.AttributeProto.AttributeType.FLOAT, f: norms[i].epsilon })];
        nodes.push(bn);
      } else {
        nodes.push({ ...n, input: n.input.map(fromSource) });
      }
    }
    const target = sums === undefined ? outputName : normNodes[sums].input[0];
    const extra: NodeProto[] = [];
    const extraInits: TensorProto[] = [];
    const outputs: ValueInfoProto[] = [];
    if (sums === undefined) {
      outputs.push(floatInfo(outputName));
    } else {
      // Sums per channel and row (over the width, where float32 sums stay exact enough): the run adds up the band's
      // own rows in double, leaving out the context rows above and below (they belong to the next band's sums).
      extraInits.push(int64Tensor('band_axis_w', [1], BigInt64Array.of(3n)));
      extra.push(
        node('ReduceSum', 'band/row_sums', [target, 'band_axis_w'], [SUM], [{ name: 'keepdims', i: 0 }]),
        // ReduceSumSquare takes its axes as an input from opset 18 on, as an attribute before.
        opset >= 18
          ? node('ReduceSumSquare', 'band/row_sums_sq', [target, 'band_axis_w'], [SUM_SQ], [{ name: 'keepdims', i: 0 }])
          : node('ReduceSumSquare', 'band/row_sums_sq', [target], [SUM_SQ], [{ name: 'keepdims', i: 0 }, { name: 'axes', ints: [3] }]),
      );
      outputs.push(floatInfo(SUM), floatInfo(SUM_SQ));
    }
    const keeps = sums !== undefined && norms[sums].channels <= KEEP_MAX_CHANNELS;
    if (keeps) outputs.push(floatInfo(target));
    const stops = new Set([SOURCE_INPUT, ...applies.flatMap((i) => [normMeanInput(i), normVarInput(i)])]);
    const chosen = closure([...nodes, ...extra], outputs.map((o) => o.name!), stops, stopsAtConstants);
    const perChannel = (i: number) => [norms[i].channels];
    const inputs = [
      floatInfo(SOURCE_INPUT, [1, sourceChannels, 'rows', 'width']),
      ...applies.flatMap((i) => [floatInfo(normMeanInput(i), perChannel(i)), floatInfo(normVarInput(i), perChannel(i))]),
    ];

    let haloOut = src === 0 ? 2 * scale : 0; // the Resize reads one source row past each side
    for (const n of chosen) {
      if (n.opType !== 'Conv') continue;
      const kh = convWeightDims(n, producer, inits)![2];
      haloOut += Math.floor(kh / 2);
    }
    const rowScale = src === 0 ? scale : 1;
    const pass: BandPass = { model: subModel(model, chosen, inputs, outputs, extraInits), source: src, applies, sums, keeps, keptTensor: keeps ? target : undefined, haloRows: Math.ceil(haloOut / rowScale) + 1 };
    if (keeps) sources.push({ tensor: target, firstNorm: sums!, channels: norms[sums!].channels });
    return pass;
  };
  for (let i = 0; i < norms.length; i++) passes.push(buildPass(i));
  passes.push(buildPass(undefined));

  const headNodes = closure(g.node, [tensorX], new Set([inputName]), initNames);
  const head = subModel(model, headNodes, g.input.filter((i) => i.name === inputName), [floatInfo(tensorX)]);
  return { head, passes, norms, scale, widestChannels, outputName };
}

/** A tensor kept whole between passes: NCHW float planes. */
interface Plane {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** Rows [from, to) of every channel of an NCHW tensor, as a new NCHW tensor. */
function rowsOf(t: Plane, from: number, to: number): ort.Tensor {
  const rows = to - from;
  const plane = t.height * t.width;
  const band = rows * t.width;
  const out = new Float32Array(t.channels * band);
  for (let c = 0; c < t.channels; c++) out.set(t.data.subarray(c * plane + from * t.width, c * plane + to * t.width), c * band);
  return new ort.Tensor('float32', out, [1, t.channels, rows, t.width]);
}

export interface BandedSessions {
  head: ort.InferenceSession;
  passes: ort.InferenceSession[];
}

/**
 * Runs the planned model over an NHWC input in bands of about `bandRows` output rows; gives back the NHWC output,
 * as the whole model would (up to float rounding in the norms' sums).
 */
export async function runBanded(plan: BandedPlan, sessions: BandedSessions, input: ort.Tensor, bandRows: number): Promise<Float32Array> {
  const [, height, width] = input.dims as number[];
  const sources: (Plane | undefined)[] = [await runHead(sessions.head, input)];
  if (sources[0]!.height * plan.scale !== height || sources[0]!.width * plan.scale !== width)
    throw new Error(`banded run: the head gave ${sources[0]!.height}×${sources[0]!.width} for ${height}×${width}`);
  const step = Math.max(plan.scale, Math.round(bandRows / plan.scale) * plan.scale);
  const pixels = height * width;
  const normFeeds: Record<string, ort.Tensor> = {};
  const output = new Float32Array(pixels * 3);

  for (let p = 0; p < plan.passes.length; p++) {
    const pass = plan.passes[p];
    const session = sessions.passes[p];
    const src = sources[pass.source]!;
    const rowScale = pass.source === 0 ? plan.scale : 1;
    const norm = pass.sums === undefined ? undefined : plan.norms[pass.sums];
    const sum = new Float64Array(norm?.channels ?? 0);
    const sumSq = new Float64Array(norm?.channels ?? 0);
    const kept: Plane | undefined = pass.keeps ? { data: new Float32Array(norm!.channels * pixels), channels: norm!.channels, height, width } : undefined;
    const feeds: Record<string, ort.Tensor> = {};
    for (const i of pass.applies) {
      feeds[normMeanInput(i)] = normFeeds[normMeanInput(i)];
      feeds[normVarInput(i)] = normFeeds[normVarInput(i)];
    }
    for (let r0 = 0; r0 < height; r0 += step) {
      const r1 = Math.min(height, r0 + step);
      const from = Math.max(0, Math.floor(r0 / rowScale) - pass.haloRows);
      const to = Math.min(src.height, Math.ceil(r1 / rowScale) + pass.haloRows);
      const start = r0 - from * rowScale;
      const end = r1 - from * rowScale;
      const band = rowsOf(src, from, to);
      feeds[SOURCE_INPUT] = band;
      const out = await session.run(feeds);
      if (norm) {
        // [1, C, band rows]: each channel's sums per row of the band, context rows included.
        const s = out[SUM].data as Float32Array;
        const q = out[SUM_SQ].data as Float32Array;
        const bandHeight = s.length / norm.channels;
        for (let c = 0; c < norm.channels; c++) {
          for (let r = start; r < end; r++) {
            sum[c] += s[c * bandHeight + r];
            sumSq[c] += q[c * bandHeight + r];
          }
        }
        if (kept) {
          const k = out[pass.keptTensor!].data as Float32Array;
          const plane = bandHeight * width;
          for (let c = 0; c < kept.channels; c++) kept.data.set(k.subarray(c * plane + start * width, c * plane + end * width), c * pixels + r0 * width);
        }
      } else {
        const result = out[plan.outputName];
        if (result.dims[3] !== 3) throw new Error(`banded run: output of ${result.dims.join('×')}, expected NHWC RGB`);
        const o = result.data as Float32Array;
        output.set(o.subarray(start * width * 3, end * width * 3), r0 * width * 3);
      }
      for (const t of Object.values(out)) t.dispose?.();
      band.dispose?.();
    }
    if (norm) {
      const mean = new Float32Array(norm.channels);
      const variance = new Float32Array(norm.channels);
      for (let c = 0; c < norm.channels; c++) {
        const m = sum[c] / pixels;
        mean[c] = m;
        variance[c] = Math.max(0, sumSq[c] / pixels - m * m);
      }
      normFeeds[normMeanInput(pass.sums!)] = new ort.Tensor('float32', mean, [norm.channels]);
      normFeeds[normVarInput(pass.sums!)] = new ort.Tensor('float32', variance, [norm.channels]);
    }
    if (kept) sources.push(kept);
    // A source no later pass starts from is let go before the next pass allocates.
    for (let s = 0; s < sources.length; s++) if (!plan.passes.slice(p + 1).some((q) => q.source === s)) sources[s] = undefined;
  }
  return output;
}

async function runHead(head: ort.InferenceSession, input: ort.Tensor): Promise<Plane> {
  const out = (await head.run({ [head.inputNames[0]]: input }))[head.outputNames[0]];
  const [, channels, height, width] = out.dims as number[];
  return { data: out.data as Float32Array, channels, height, width };
}
