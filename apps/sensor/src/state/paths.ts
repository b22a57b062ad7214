/** Path arithmetic shared by state and fields, done the way libsinsp does it. */

/** Joins a path with the directory it is relative to and normalises `.`/`..`, like libsinsp. */
export function resolvePath(path: string, base: string | undefined): string {
  const full = path.startsWith('/') || base === undefined ? path : `${base.endsWith('/') ? base : `${base}/`}${path}`;
  if (!full.startsWith('/')) return full;
  const out: string[] = [];
  for (const part of full.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}
