// Worker threads do not inherit tsx's loader hooks on Node 20, so the pipeline worker registers tsx itself
// before loading its TypeScript entry module.
import { register } from 'tsx/esm/api';

register();
await import('./worker-entry.ts');
