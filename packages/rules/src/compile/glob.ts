/**
 * fnmatch(3) patterns as libs uses them for `glob`/`iglob` and `pmatch`
 * components: flags 0 (no FNM_PATHNAME, so `*` also matches `/`), `?`, `[...]`,
 * `[!...]`, and backslash escapes. Translated once to an anchored RegExp.
 */
const SPECIAL = /[.*+?^${}()|[\]\\/]/g;

function escapeRegExp(s: string): string {
  return s.replace(SPECIAL, '\\$&');
}

export function globToRegExp(pattern: string, caseInsensitive = false): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRegExp(pattern[++i]!);
    else if (c === '[') {
      const end = bracketEnd(pattern, i);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      let cls = '';
      for (const ch of body) cls += ch === '\\' || ch === ']' || ch === '^' || ch === '[' ? `\\${ch}` : ch;
      re += `[${negate ? '^' : ''}${cls}]`;
      i = end;
    } else re += escapeRegExp(c);
  }
  return new RegExp(`^${re}$`, caseInsensitive ? 'i' : '');
}

/** Index of the `]` closing the bracket expression opened at `start`, or -1. */
function bracketEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '!' || pattern[i] === '^') i++;
  if (pattern[i] === ']') i++; // a leading ] is literal
  for (; i < pattern.length; i++) if (pattern[i] === ']') return i;
  return -1;
}

export function hasGlobMeta(s: string): boolean {
  return /[*?[\\]/.test(s);
}
