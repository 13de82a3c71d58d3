import sharp from 'sharp';
import { fromSharp } from '../pipeline/image.js';
import { paddedSize, toStyleTensor } from '../pipeline/pixels/tensor.js';
import type { StyleInfo } from '../pipeline/styles.js';
import * as ort from 'onnxruntime-node';
import { calibrateRanges, threadOption, type CalibrationInput, type Range } from './calibrate.js';
import { decodeModel, encodeModel, readModel, type ModelProto } from './onnx-model.js';
import { activationsToQuantize, insertQdq, narrowConvs, quantizableConvs } from './qdq.js';
import { foldInstanceNormAffine, quantizeBeforePad, reduceMeanToGlobalAveragePool } from './rewrite.js';

export interface QuantizedModel {
  bytes: Uint8Array;
  /** ReduceMean nodes rewritten as GlobalAveragePool. */
  rewrites: number;
  /** Convs turned int8. */
  convs: number;
  /** Convs left fp32: too narrow to be faster in int8 (narrowConvs), or int8 alone there costs the picture more than SENSITIVE_CONV_DB. */
  keptFloat: string[];
  /** InstanceNorm blocks whose per-channel Mul/Add were folded into the norm (foldInstanceNormAffine). */
  normsFolded: number;
  /** Reflect pads moved after their QuantizeLinear, so they copy uint8 (quantizeBeforePad). */
  uint8Pads: number;
  /** Activation tensors given a calibrated uint8 QuantizeLinear/DequantizeLinear pair. */
  activations: number;
}

/** Photos scaled to fit `side` and reflect-padded exactly as `stylize` pads them for this style. */
export async function calibrationInputs(photos: string[], side: number, style: Pick<StyleInfo, 'sizeMultiple' | 'minSide'>): Promise<CalibrationInput[]> {
  return Promise.all(
    photos.map(async (file) => {
      const img = await fromSharp(sharp(file).rotate().resize(side, side, { fit: 'inside' }));
      const padW = paddedSize(img.width, style.sizeMultiple, style.minSide);
      const padH = paddedSize(img.height, style.sizeMultiple, style.minSide);
      return { data: toStyleTensor(img, padW, padH), dims: [1, padH, padW, 3] as [number, number, number, number] };
    }),
  );
}

/**
 * A conv stays fp32 when quantising it alone already brings the output below this PSNR (dB) against fp32. Errors
 * add up over ~30 convs, so each may cost only a little; measured: on AnimeGANv2 two convs next to the output
 * (37 and 40 dB alone) took the whole model from 44 to 35 dB, every other conv alone was above 51 dB.
 */
export const SENSITIVE_CONV_DB = 45;

/** The whole int8 model must reach this PSNR against fp32 on the probe (2 dB above the golden test's 38). */
export const PROBE_TARGET_DB = 40;

export function tensorPsnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    // Compared as the pictures they become: [-1, 1] → 0..255.
    const d = (Math.max(-1, Math.min(1, a[i])) - Math.max(-1, Math.min(1, b[i]))) * 127.5;
    se += d * d;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.length) / se);
}

async function runOnce(model: ModelProto, input: CalibrationInput, threads?: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(model), threadOption(threads));
  try {
    const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.dims) });
    return result[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Each conv's sensitivity: the output's PSNR against fp32 with only that conv int8, on one probe input. */
export async function convSensitivity(model: ModelProto, ranges: Map<string, Range>, probe: CalibrationInput, threads?: number, keepFloat: ReadonlySet<string> = new Set()): Promise<Map<string, number>> {
  const reference = await runOnce(model, probe, threads);
  const convs = quantizableConvs(model.graph).map((n) => n.name);
  const result = new Map<string, number>();
  for (const conv of convs) {
    if (keepFloat.has(conv)) continue;
    const variant = decodeModel(encodeModel(model));
    insertQdq(variant.graph, ranges, new Set(convs.filter((c) => c !== conv)));
    result.set(conv, tensorPsnr(reference, await runOnce(variant, probe, threads)));
  }
  return result;
}

/**
 * fp32 style model → int8 QDQ model: GlobalAveragePool and InstanceNorm-affine rewrites, min/max calibration on the
 * given inputs, narrow convs and convs too sensitive for int8 (tried one by one on the probe input: keep it small,
 * it runs once per conv) kept fp32, then reflect pads moved onto the uint8 side of their QuantizeLinear.
 */
export async function quantizeStyleModel(fp32File: string, inputs: CalibrationInput[], probe: CalibrationInput, threads?: number): Promise<QuantizedModel> {
  const model = await readModel(fp32File);
  const rewrites = reduceMeanToGlobalAveragePool(model.graph);
  const normsFolded = foldInstanceNormAffine(model.graph);
  const narrow = new Set(narrowConvs(model.graph));
  const tensors = activationsToQuantize(model.graph, narrow);
  const ranges = await calibrateRanges(model, tensors, inputs, threads);
  const sensitivity = [...(await convSensitivity(model, ranges, probe, threads, narrow))].sort((a, b) => a[1] - b[1]);
  const keep = new Set([...narrow, ...sensitivity.filter(([, db]) => db < SENSITIVE_CONV_DB).map(([name]) => name)]);
  // Many convs each a little off still add up (AnimeGAN v1 has 49): keep the next most sensitive ones fp32 until
  // the whole model reaches PROBE_TARGET_DB on the probe.
  const reference = await runOnce(model, probe, threads);
  for (const [name] of sensitivity) {
    if (keep.has(name)) continue;
    const variant = decodeModel(encodeModel(model));
    insertQdq(variant.graph, ranges, keep);
    if (tensorPsnr(reference, await runOnce(variant, probe, threads)) >= PROBE_TARGET_DB) break;
    keep.add(name);
  }
  const convs = quantizableConvs(model.graph, keep).length;
  insertQdq(model.graph, ranges, keep);
  const uint8Pads = quantizeBeforePad(model.graph);
  return { bytes: encodeModel(model), rewrites, normsFolded, uint8Pads, convs, keptFloat: [...keep], activations: tensors.length };
}
