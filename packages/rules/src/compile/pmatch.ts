import { compileGlob, hasGlobMeta } from './glob.ts';

/**
 * `pmatch`: path-prefix match by `/` components (libs prefix_search.h).
 * `/var/run` matches `/var/run` and `/var/run/docker`, not `/var` or
 * `/var/runx`; empty components are skipped; each component may be an
 * fnmatch pattern.
 */
type ComponentMatcher = string | ((component: string) => boolean);

function components(path: string): string[] {
  return path.split('/').filter((c) => c.length > 0);
}

export function compilePathPrefixes(prefixes: readonly string[]): (path: string) => boolean {
  const compiled: ComponentMatcher[][] = prefixes.map((p) =>
    components(p).map((c) => (hasGlobMeta(c) ? compileGlob(c) : c)),
  );
  return (path: string) => {
    const parts = components(path);
    outer: for (const prefix of compiled) {
      if (prefix.length > parts.length) continue;
      for (let i = 0; i < prefix.length; i++) {
        const m = prefix[i]!;
        const part = parts[i]!;
        if (typeof m === 'string' ? m !== part : !m(part)) continue outer;
      }
      return true;
    }
    return false;
  };
}
