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

/** The model with the given intermediate tensors exposed as extra float outputs (type only: shapes vary with the input). */
function exposing(model: ModelProto, tensors: string[]): ModelProto {
  const extra = tensors.map((name) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }),
  );
  return { ...model, graph: { ...model.graph, output: [...model.graph.output, ...extra] } };
}

/**
 * Min/max of each named tensor over all calibration inputs (onnxruntime's MinMax calibration, no averaging).
 * Runs with graph optimisations off so that every named tensor still exists.
 */
export async function calibrateRanges(model: ModelProto, tensors: string[], inputs: CalibrationInput[], threads?: number): Promise<Map<string, Range>> {
  const session = await ort.InferenceSession.create(encodeModel(exposing(model, tensors)), {
    graphOptimizationLevel: 'disabled',
    intraOpNumThreads: threads,
    enableCpuMemArena: false,
  });
  const ranges = new Map<string, Range>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
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
  return ranges;
}
