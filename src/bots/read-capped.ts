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
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.byteLength;
    if (total > limitBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}
