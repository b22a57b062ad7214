// Names in a policy (rules, namespaces, tags) may use `*` (any run) and `?` (one character).
// The text matched is the alert sender's, so the matcher must not backtrack exponentially:
// this is the classic two-pointer wildcard match (resume after the last star), O(text x pattern).

/** True when `text` matches `pattern` in full; `*` and `?` are the only special characters. */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || (pattern[p] !== '*' && pattern[p] === text[t]))) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** True when any pattern of the list matches. */
export function globAny(patterns: readonly string[], text: string): boolean {
  return patterns.some((pattern) => globMatch(pattern, text));
}
