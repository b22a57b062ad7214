import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks `Authorization: Bearer <token>` against the configured tokens in
 * constant time: both sides are hashed to 32 bytes first, so neither the
 * content nor the length of a token leaks through timing.
 */
export function bearerChecker(tokens: readonly string[]): ((authorization: string | undefined) => boolean) | undefined {
  if (tokens.length === 0) return undefined;
  const digests = tokens.map(sha256);
  return (authorization) => {
    if (authorization === undefined) return false;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    const offered = sha256(m === null ? '' : m[1]);
    let ok = false;
    // Compare against every token, without early exit.
    for (const d of digests) ok = timingSafeEqual(d, offered) || ok;
    return ok && m !== null;
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
