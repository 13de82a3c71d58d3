import {
  decodeModel,
  dimsOf,
  encodeModel,
  floatTensor,
  floatValues,
  intAttribute,
  intsAttribute,
  node,
  producers,
  resizeFactor,
  stringAttribute,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../quantize/onnx-model.js';

/**
 * A full-resolution 7×7 conv with fewer than 8 output channels (a style model's RGB output conv) runs far below
 * onnxruntime's conv speed: its NCHWc kernel computes outputs in blocks of 8 channels, so 3 of 8 do useful work, on
 * the largest planes of the model. The same conv, computed on the picture folded into 4×4 blocks (SpaceToDepth: 16×
 * the channels at 1/16 of the pixels), is a 3×3 conv with 16× the input and output channels, which those kernels run
 * at full width; DepthToSpace unfolds the result. Exactly the same sums (max abs diff ~1e-6 from their order).
 * White-box at 1024×768, fp32: 1617 → 1434 ms. Folding the 3-channel input conv the same way was slower (1745 ms).
 */
const BLOCK = 4;
const KERNEL = 7;
const NARROW = 8;

/**
 * The largest power of two each tensor's height and width are known to be multiples of, given that the model's input
 * sides are multiples of `inputMultiple`; 0 where unknown. Followed through the ops a style model's trunk is made of:
 * element-wise ops and norms keep it, a stride-2 "same" conv halves it, an integer ×k Resize multiplies it.
 */
export function spatialMultiples(model: ModelProto, inputMultiple: number): Map<string, number> {
  const { graph } = model;
  const constants = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const producer = producers(graph.node);
  const multiple = new Map<string, number>();
  const pow2 = (n: number) => n & -n;
  for (const input of graph.input) if (input.name && !constants.has(input.name)) multiple.set(input.name, pow2(inputMultiple));
  const of = (name: string) => multiple.get(name) ?? 0;
  for (const n of graph.node) {
    const spatial = n.input.filter((i) => i && !constants.has(i));
    let m = 0;
    if (KEEPS_SIZE.has(n.opType)) {
      m = spatial.length ? Math.min(...spatial.map(of)) : 0;
    } else if (n.opType === 'Conv') {
      const stride = sameStride(n, constants.get(n.input[1]));
      const d = of(n.input[0]);
      m = stride === 1 ? d : stride === 2 && d % 2 === 0 ? d / 2 : 0;
    } else if (n.opType === 'Resize') {
      m = of(n.input[0]) * (resizeFactor(n, producer, constants) ?? 0);
    }
    for (const o of n.output) multiple.set(o, m);
  }
  return multiple;
}

const KEEPS_SIZE = new Set([
  'Transpose', 'Relu', 'LeakyRelu', 'Tanh', 'Sigmoid', 'Clip', 'Identity', 'Cast', 'Abs', 'Neg', 'Sqrt', 'Exp',
  'InstanceNormalization', 'BatchNormalization', 'Add', 'Sub', 'Mul', 'Div', 'Max', 'Min',
  'QuantizeLinear', 'DequantizeLinear',
]);

/** The conv's stride where it pads "same" (output = input / stride), else undefined. */
function sameStride(n: NodeProto, weight: TensorProto | undefined): number | undefined {
  if (!weight || (intAttribute(n, 'group') ?? 1) !== 1 || (intsAttribute(n, 'dilations') ?? [1, 1]).some((d) => d !== 1)) return undefined;
  const [, , kh, kw] = dimsOf(weight);
  const strides = intsAttribute(n, 'strides') ?? [1, 1];
  if (kh !== kw || kh % 2 !== 1 || strides[0] !== strides[1]) return undefined;
  const autoPad = stringAttribute(n, 'auto_pad');
  const same = autoPad?.startsWith('SAME') || ((!autoPad || autoPad === 'NOTSET') && (intsAttribute(n, 'pads') ?? [0, 0, 0, 0]).every((p) => p === (kh - 1) / 2));
  return same ? strides[0] : undefined;
}

/**
 * The model with each full-resolution narrow-output 7×7 conv folded (see above), or undefined where it has none.
 * Only convs whose input sides are known multiples of 4 are folded, so every picture the model accepts still runs.
 */
export function foldNarrowOutputConvs(bytes: Uint8Array, inputMultiple: number): Uint8Array | undefined {
  const model = decodeModel(bytes);
  const { graph } = model;
  const constants = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const multiples = spatialMultiples(model, inputMultiple);
  const nodes: NodeProto[] = [];
  const added: TensorProto[] = [];
  for (const n of graph.node) {
    const weight = n.opType === 'Conv' ? constants.get(n.input[1]) : undefined;
    const bias = n.input[2] ? constants.get(n.input[2]) : undefined;
    const dims = weight ? dimsOf(weight) : [];
    const eligible =
      weight && dims[0] < NARROW && dims[2] === KERNEL && sameStride(n, weight) === 1 && (multiples.get(n.input[0]) ?? 0) % BLOCK === 0 &&
      (!n.input[2] || bias);
    if (!eligible) {
      nodes.push(n);
      continue;
    }
    const tag = `${n.name || n.output[0]}/fold${BLOCK}`;
    const folded = foldWeights(floatValues(weight), dims, bias ? floatValues(bias) : new Float32Array(dims[0]));
    added.push(floatTensor(`${tag}/W`, folded.dims, folded.weight), floatTensor(`${tag}/B`, [folded.bias.length], folded.bias));
    nodes.push(
      node('SpaceToDepth', `${tag}/SpaceToDepth`, [n.input[0]], [`${tag}/in`], [{ name: 'blocksize', i: BLOCK }]),
      node('Conv', `${tag}/Conv`, [`${tag}/in`, `${tag}/W`, `${tag}/B`], [`${tag}/out`], [
        { name: 'kernel_shape', ints: [3, 3] },
        { name: 'pads', ints: [1, 1, 1, 1] },
      ]),
      // DCR, the default: channel (dy·4 + dx)·C + c holds pixel offset (dy, dx) of channel c, as SpaceToDepth lays it.
      node('DepthToSpace', `${tag}/DepthToSpace`, [`${tag}/out`], [n.output[0]], [{ name: 'blocksize', i: BLOCK }]),
    );
  }
  if (!added.length) return undefined;
  graph.node = nodes;
  // The folded convs' own weights, now read by no node, go (onnxruntime would warn about each).
  const read = new Set(nodes.flatMap((n) => n.input));
  graph.initializer = [...graph.initializer.filter((t) => read.has(t.name ?? '')), ...added];
  return encodeModel(model);
}

/**
 * Weights of the folded 3×3 conv. Output pixel (4i+ry, 4j+rx) reads input pixel (4i+ry+ky−3, 4j+rx+kx−3), which lies
 * in block (i + ky'−1) at offset sy where 4(ky'−1) + sy = ry + ky − 3; likewise across.
 */
export function foldWeights(w: Float32Array, [co, ci, k]: number[], bias: Float32Array) {
  const p = (k - 1) / 2;
  const outC = BLOCK * BLOCK * co;
  const inC = BLOCK * BLOCK * ci;
  const weight = new Float32Array(outC * inC * 9);
  for (let ry = 0; ry < BLOCK; ry++)
    for (let rx = 0; rx < BLOCK; rx++)
      for (let sy = 0; sy < BLOCK; sy++)
        for (let sx = 0; sx < BLOCK; sx++)
          for (let fy = 0; fy < 3; fy++)
            for (let fx = 0; fx < 3; fx++) {
              const ky = BLOCK * (fy - 1) + sy - ry + p;
              const kx = BLOCK * (fx - 1) + sx - rx + p;
              if (ky < 0 || ky >= k || kx < 0 || kx >= k) continue;
              for (let o = 0; o < co; o++)
                for (let c = 0; c < ci; c++) {
                  const oc = (ry * BLOCK + rx) * co + o;
                  const ic = (sy * BLOCK + sx) * ci + c;
                  weight[((oc * inC + ic) * 3 + fy) * 3 + fx] = w[((o * ci + c) * k + ky) * k + kx];
                }
            }
  const folded = new Float32Array(outC);
  for (let r = 0; r < BLOCK * BLOCK; r++) folded.set(bias, r * co);
  return { weight, bias: folded, dims: [outC, inC, 3, 3] };
}
