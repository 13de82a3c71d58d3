// The pipeline worker process is started without the parent's loader flags, so it registers tsx itself
// before loading its TypeScript entry module.
import { register } from 'tsx/esm/api';

register();
await import('./worker-entry.ts');
