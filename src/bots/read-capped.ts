/**
 * Reads a fetch Response body into memory, failing with `tooLarge()` as soon as more than `limitBytes` arrive
 * (a declared Content-Length over the limit fails before reading anything). Shared by every platform adapter.
 */
export async function readCappedBody(res: Response, limitBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  if (Number(res.headers.get('content-length') ?? 0) > limitBytes) {
    await res.body.cancel();
    throw tooLarge();
  }
  return readCappedStream(res.body, limitBytes, tooLarge);
}

/** Collects a stream of chunks (a fetch body, an incoming HTTP request) into one array, up to `limitBytes`. */
export async function readCappedStream(chunks: AsyncIterable<Uint8Array>, limitBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.byteLength;
    if (total > limitBytes) throw tooLarge();
    parts.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of parts) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}
