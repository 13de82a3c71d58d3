/**
 * onnxruntime-node ships Microsoft's telemetry switched on: it writes
 * ~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db, a /tmp/mat-debug-<pid>.log per process and
 * looks up its collector's address. A self-hosted bot that promises to keep pictures private must not phone
 * home, so it is off unless the operator explicitly sets ORT_DISABLE_TELEMETRY=0 in the real environment.
 *
 * onnxruntime reads the variable when it creates its environment (the first InferenceSession of a process),
 * so this module is imported by everything that creates sessions or pipeline workers, before any of them
 * does. Worker threads read the process environment the main thread sets here.
 */
export const TELEMETRY_ENV = 'ORT_DISABLE_TELEMETRY';

export function disableOrtTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  if (env[TELEMETRY_ENV] === undefined || env[TELEMETRY_ENV].trim() === '') env[TELEMETRY_ENV] = '1';
}

disableOrtTelemetry();
