/**
 * Hub routing globs: `*` (any run) and `?` (one character); everything else
 * is literal; the whole text must match. The text comes from alerts, that is
 * from senders, so matching must not backtrack: a RegExp of `.*` runs takes
 * polynomial time in the text's length for patterns with several stars. The
 * pieces between stars have a fixed length, so placing each one leftmost is
 * optimal and the match costs O(text × pattern) at worst.
 */
export interface GlobMatcher {
  test(text: string): boolean;
}

/** One run of literal characters and `?` between stars. */
function pieceMatchesAt(piece: string, text: string, at: number): boolean {
  for (let i = 0; i < piece.length; i++) {
    const p = piece.charCodeAt(i);
    if (p !== 63 /* ? */ && p !== text.charCodeAt(at + i)) return false;
  }
  return true;
}

function findPiece(piece: string, text: string, from: number, limit: number): number {
  for (let at = from; at + piece.length <= limit; at++) if (pieceMatchesAt(piece, text, at)) return at;
  return -1;
}

export function compileGlob(glob: string): GlobMatcher {
  // `?` matches one UTF-16 unit; split into the pieces between stars.
  const pieces = glob.split('*');
  if (pieces.length === 1) {
    return { test: (text) => text.length === glob.length && pieceMatchesAt(glob, text, 0) };
  }
  const first = pieces[0];
  const last = pieces[pieces.length - 1];
  const middle = pieces.slice(1, -1).filter((p) => p.length > 0);
  const fixed = first.length + last.length;
  return {
    test(text: string): boolean {
      if (text.length < fixed) return false;
      if (!pieceMatchesAt(first, text, 0)) return false;
      const end = text.length - last.length;
      if (!pieceMatchesAt(last, text, end)) return false;
      let at = first.length;
      for (const piece of middle) {
        const found = findPiece(piece, text, at, end);
        if (found < 0) return false;
        at = found + piece.length;
      }
      return true;
    },
  };
}

export function isGlob(text: string): boolean {
  return text.includes('*') || text.includes('?');
}
