import sharp from 'sharp';
import { fromSharp } from '../pipeline/image.js';
import { paddedSize, toStyleTensor } from '../pipeline/pixels.js';
import type { StyleInfo } from '../pipeline/styles.js';
import { calibrateRanges, type CalibrationInput } from './calibrate.js';
import { encodeModel, readModel } from './onnx-model.js';
import { activationsToQuantize, insertQdq, quantizableConvs } from './qdq.js';
import { reduceMeanToGlobalAveragePool } from './rewrite.js';

export interface QuantizedModel {
  bytes: Uint8Array;
  /** ReduceMean nodes rewritten as GlobalAveragePool. */
  rewrites: number;
  /** Convs turned int8. */
  convs: number;
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

/** fp32 style model → int8 QDQ model (GlobalAveragePool rewrite, min/max calibration on the given inputs). */
export async function quantizeStyleModel(fp32File: string, inputs: CalibrationInput[], threads?: number): Promise<QuantizedModel> {
  const model = await readModel(fp32File);
  const rewrites = reduceMeanToGlobalAveragePool(model.graph);
  const tensors = activationsToQuantize(model.graph);
  const ranges = await calibrateRanges(model, tensors, inputs, threads);
  const convs = quantizableConvs(model.graph).length;
  insertQdq(model.graph, ranges);
  return { bytes: encodeModel(model), rewrites, convs, activations: tensors.length };
}
