import { parentPort, workerData } from 'node:worker_threads';
import { LocalPipelineService, serialiseError, type PipelineServiceOptions, type WorkerReply, type WorkerRequest } from './service.js';

const service = new LocalPipelineService(workerData as PipelineServiceOptions);
const port = parentPort!;

port.on('message', async (req: WorkerRequest) => {
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    if (req.kind === 'stylize') {
      const value = await service.stylize(req.job);
      const image = new Uint8Array(value.image);
      transfer.push(image.buffer as ArrayBuffer);
      reply = { id: req.id, ok: true, value: { ...value, image } };
    } else {
      await service.warmUp(req.modelIds);
      reply = { id: req.id, ok: true, value: undefined };
    }
  } catch (e) {
    reply = { id: req.id, ok: false, error: serialiseError(e) };
  }
  port.postMessage(reply, transfer);
});
