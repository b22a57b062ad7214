/** `*` (any run) and `?` (one character); everything else is literal. Anchored at both ends. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

export function isGlob(text: string): boolean {
  return text.includes('*') || text.includes('?');
}
