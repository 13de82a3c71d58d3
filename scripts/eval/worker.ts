/** Child-process entry for `--jobs N`: evaluates the photos the parent hands it, one at a time. */
import { PhotoEvaluator } from './measure.js';
import type { ToParent, ToWorker } from './parallel.js';

let evaluator: PhotoEvaluator | undefined;

function send(msg: ToParent): void {
  process.send?.(msg);
}

process.on('message', (msg: ToWorker) => {
  void (async () => {
    try {
      if (msg.type === 'config') {
        evaluator = new PhotoEvaluator(msg.config);
        await evaluator.warmUp();
        send({ type: 'ready' });
      } else if (msg.type === 'task') {
        if (!evaluator) throw new Error('task before config');
        send({ type: 'result', result: await evaluator.evaluate(msg.task) });
      } else {
        await evaluator?.close();
        process.disconnect?.();
      }
    } catch (e) {
      send({ type: 'fatal', error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      process.exitCode = 1;
      process.disconnect?.();
    }
  })();
});
