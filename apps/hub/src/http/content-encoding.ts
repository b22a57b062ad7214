import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { Gunzip, Inflate } from 'node:zlib';

/** A decoded request body as Fastify reads it, with the byte count on the wire it checks Content-Length against. */
export type DecodedBody = Transform & { readonly receivedEncodedLength: number };

/** An error Fastify answers with its statusCode (the hub's error handler words the 413). */
export class DecodedBodyTooLargeError extends Error {
  readonly statusCode = 413;
  readonly code = 'FST_ERR_CTP_BODY_TOO_LARGE';
  constructor(limitBytes: number) {
    super(`body larger than ${limitBytes} bytes once decoded`);
  }
}

/**
 * Decodes a gzip or deflate request body, stopping at `limitBytes` decoded.
 * Fastify enforces the body limit on what it reads, but then only stops
 * listening: the decoder would go on inflating whatever the client still
 * sends (a gzip bomb expands a thousandfold). Here the decoder is destroyed
 * and the request detached from it as soon as the limit is passed, and the
 * body stream fails with a 413. The rest of the request is drained unread.
 */
export function decodeContentEncoding(payload: Readable, encoding: 'gzip' | 'deflate', limitBytes: number): { readonly body: DecodedBody; readonly decoder: Gunzip | Inflate } {
  const decoder = encoding === 'gzip' ? createGunzip() : createInflate();
  let encodedBytes = 0;
  let decodedBytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      encodedBytes += chunk.length;
      callback(null, chunk);
    },
  });
  const limited = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      decodedBytes += chunk.length;
      if (decodedBytes <= limitBytes) return callback(null, chunk);
      payload.unpipe(counted);
      counted.unpipe(decoder);
      decoder.destroy();
      payload.resume();
      callback(new DecodedBodyTooLargeError(limitBytes));
    },
  });
  payload.on('error', (e) => decoder.destroy(e));
  // Decoder errors (not gzip, truncated) reach Fastify through `limited`.
  decoder.on('error', (e) => limited.destroy(e));
  // Fastify listens while it reads; an error after that (trailing garbage) must not go unhandled.
  limited.on('error', () => undefined);
  payload.pipe(counted).pipe(decoder).pipe(limited);
  const body = Object.defineProperty(limited, 'receivedEncodedLength', { get: () => encodedBytes }) as DecodedBody;
  return { body, decoder };
}
