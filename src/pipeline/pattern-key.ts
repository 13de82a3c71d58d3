import * as ort from 'onnxruntime-node';
import { DataType, onnx } from '../quantize/onnx-model.js';

/**
 * onnxruntime plans a run's memory once per input shape and reuses the plan (one block for every intermediate tensor)
 * on later runs at that shape; a run without a plan mallocs and page-faults every tensor and takes 2–3× as long. It
 * finds the plan by a key that is the XOR of every dimension of every input (session_state.cc,
 * CalculateMemoryPatternsKey). So every square picture has the same key (1^n^n^3): after the first face crop, a crop
 * of any other size picked up that crop's plan, which does not fit, and ran unplanned every time (v3 Hayao fp32 at
 * 448×448: 1.6–1.7 s on every run instead of 0.6 s), and so did any two pictures whose sides happen to XOR alike.
 *
 * The fix: every model gets one more input, never read by any node, fed an empty tensor of shape [0, k] with k chosen
 * so the XOR comes out as a number of our own, distinct for each distinct set of input shapes.
 */
export const PATTERN_KEY_INPUT = 'memory_pattern_key';

/** The first key handed out; keys count up from here. Any start would do: every run of these sessions is fed one. */
const FIRST_KEY = 1 << 29;

/**
 * The model with the key input added. A protobuf parser merges a second occurrence of a singular message field
 * (ModelProto.graph) into the first, appending its repeated fields, so a second `graph` holding only the new input,
 * appended to the bytes, adds it without decoding the model (onnxruntime's parser does; protobufjs's decoder keeps
 * only the last occurrence, which is why the test reads the result through a session).
 */
export function withPatternKeyInput(model: Uint8Array): Uint8Array {
  const extra = onnx.ModelProto.encode({
    graph: {
      input: [
        {
          name: PATTERN_KEY_INPUT,
          // Symbolic dimensions: onnxruntime plans memory only for inputs with a declared shape.
          type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'pattern_key_rows' }, { dimParam: 'pattern_key' }] } } },
        },
      ],
    },
  }).finish();
  const out = new Uint8Array(model.length + extra.length);
  out.set(model, 0);
  out.set(extra, model.length);
  return out;
}

type Feeds = Record<string, { readonly dims: readonly number[] }>;

/**
 * The key feed's dims for these feeds: [0, k] such that the XOR of every dim, the key feed's included, is this set of
 * shapes' own key (`keys` remembers them). One key per distinct multiset of dims per input, as onnxruntime's own key
 * meant: a picture and its transpose (1536×1152 and 1152×1536) share a plan, as they did before, because every tensor
 * of these fully convolutional models has the same size in both. Where a planned block does not fit, onnxruntime
 * allocates that tensor on its own, so a shared key can only cost time, never a wrong result.
 */
export function patternKeyDims(feeds: Feeds, keys: Map<string, number>): [0, number] {
  const inputs = Object.keys(feeds).sort();
  const signature = inputs.map((name) => `${name}:${[...feeds[name].dims].sort((a, b) => a - b).join('x')}`).join(' ');
  let key = keys.get(signature);
  if (key === undefined) keys.set(signature, (key = FIRST_KEY + keys.size));
  let xor = 0;
  for (const name of inputs) for (const d of feeds[name].dims) xor ^= d;
  return [0, xor ^ key];
}

/** Makes `session.run` add the key feed, for models given the key input by `withPatternKeyInput`. */
export function keyPatternsByShape(session: ort.InferenceSession): ort.InferenceSession {
  if (!session.inputNames.includes(PATTERN_KEY_INPUT)) return session;
  const keys = new Map<string, number>();
  const run = session.run.bind(session) as (feeds: Record<string, ort.Tensor>, ...rest: unknown[]) => Promise<ort.InferenceSession.OnnxValueMapType>;
  (session as { run: unknown }).run = (feeds: Record<string, ort.Tensor>, ...rest: unknown[]) =>
    run({ ...feeds, [PATTERN_KEY_INPUT]: new ort.Tensor('float32', new Float32Array(0), patternKeyDims(feeds, keys)) }, ...rest);
  return session;
}
