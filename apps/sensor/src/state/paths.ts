/** Path arithmetic shared by state and fields, done the way libsinsp does it. */

/**
 * True when an absolute path is already in normal form: no empty (`//`),
 * `.` or `..` component and no trailing `/` (except the root itself). Most
 * paths the probe reports are like this, so they need no split and rejoin.
 */
function isNormalAbsolute(path: string): boolean {
  const n = path.length;
  if (n === 1) return true;
  if (path.charCodeAt(n - 1) === 47 /* / */) return false;
  for (let i = path.indexOf('/', 0); i !== -1; i = path.indexOf('/', i + 1)) {
    const c1 = path.charCodeAt(i + 1);
    if (c1 === 47) return false;
    if (c1 === 46 /* . */) {
      const c2 = path.charCodeAt(i + 2);
      // "/." followed by "/" or the end, or "/.." followed by "/" or the end.
      if (c2 === 47 || Number.isNaN(c2)) return false;
      if (c2 === 46) {
        const c3 = path.charCodeAt(i + 3);
        if (c3 === 47 || Number.isNaN(c3)) return false;
      }
    }
  }
  return true;
}

/** Joins a path with the directory it is relative to and normalises `.`/`..`, like libsinsp. */
export function resolvePath(path: string, base: string | undefined): string {
  const full = path.startsWith('/') || base === undefined ? path : `${base.endsWith('/') ? base : `${base}/`}${path}`;
  if (!full.startsWith('/')) return full;
  if (isNormalAbsolute(full)) return full;
  const out: string[] = [];
  for (const part of full.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}
