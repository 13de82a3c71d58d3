import '../pipeline/ort-env.js';
import * as ort from 'onnxruntime-node';
import { encodeModel, onnx, type ModelProto } from './onnx-model.js';

export interface Range {
  min: number;
  max: number;
}

export interface CalibrationInput {
  /** NHWC float input as the style models take it. */
  data: Float32Array;
  dims: [number, number, number, number];
}

/** onnxruntime-node rejects an undefined intraOpNumThreads: leave the option out to get its default. */
export const threadOption = (threads?: number) => (threads ? { intraOpNumThreads: threads } : {});

/** The model with the given intermediate tensors exposed as extra float outputs (type only: shapes vary with the input). */
function exposing(model: ModelProto, tensors: string[]): ModelProto {
  const extra = tensors.map((name) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }),
  );
  return { ...model, graph: { ...model.graph, output: [...model.graph.output, ...extra] } };
}

/**
 * How many intermediate tensors one calibration run exposes. Exposing all at once held every conv's activations of
 * one photo in memory together; in groups memory is bounded by the group, and the ranges are the same (min/max do
 * not depend on the grouping) for one model run per group and photo. Measured, AnimeGAN v1 Paprika, 90 tensors, one
 * photo at 512 px: peak RSS 4964 → 1473 MB, identical ranges, 5× the calibration time (72 → 358 s on a busy box).
 */
export const TENSORS_PER_RUN = 8;

/**
 * Min/max of each named tensor over all calibration inputs (onnxruntime's MinMax calibration, no averaging).
 * Runs with graph optimisations off so that every named tensor still exists.
 */
export async function calibrateRanges(model: ModelProto, tensors: string[], inputs: CalibrationInput[], threads?: number, tensorsPerRun = TENSORS_PER_RUN): Promise<Map<string, Range>> {
  const ranges = new Map<string, Range>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  for (let i = 0; i < tensors.length; i += tensorsPerRun) await widenRanges(model, tensors.slice(i, i + tensorsPerRun), inputs, ranges, threads);
  return ranges;
}

async function widenRanges(model: ModelProto, tensors: string[], inputs: CalibrationInput[], ranges: Map<string, Range>, threads?: number): Promise<void> {
  const session = await ort.InferenceSession.create(encodeModel(exposing(model, tensors)), {
    graphOptimizationLevel: 'disabled',
    ...threadOption(threads),
    enableCpuMemArena: false,
  });
  const inputName = session.inputNames[0];
  try {
    for (const input of inputs) {
      const feed = new ort.Tensor('float32', input.data, input.dims);
      const result = await session.run({ [inputName]: feed }, tensors);
      for (const name of tensors) {
        const values = result[name].data as Float32Array;
        const r = ranges.get(name)!;
        for (let i = 0; i < values.length; i++) {
          const v = values[i];
          if (v < r.min) r.min = v;
          if (v > r.max) r.max = v;
        }
        result[name].dispose();
      }
    }
  } finally {
    await session.release();
  }
}
