import { LocalPipelineService, serialiseError, type PipelineServiceOptions, type WorkerReply, type WorkerRequest } from './service.js';

/** The pipeline worker process (see WorkerPipelineService): runs jobs one at a time, in the order sent. */
const options = JSON.parse(process.argv[2] ?? '{}') as PipelineServiceOptions;
const service = new LocalPipelineService(options);

function reply(message: WorkerReply): void {
  process.send?.(message);
}

process.on('message', (req: WorkerRequest) => {
  if (req.kind === 'cancel') {
    // Everything sent before this message stops at its next safe point; later jobs are not affected.
    void service.abortAll();
    return;
  }
  const id = req.id;
  const work =
    req.kind === 'stylize'
      ? service.stylize(req.job)
      : req.kind === 'clip'
        ? service.stylizeClip(req.job, (progress) => reply({ id, progress }))
        : service.warmUp(req.modelIds);
  work.then(
    (value) => reply({ id, ok: true, value }),
    (e: unknown) => reply({ id, ok: false, error: serialiseError(e) }),
  );
});

// The app is gone (even SIGKILLed): nobody will read the answers.
process.on('disconnect', () => process.exit(0));
