import { SHORT_ID_LENGTH } from './types.ts';
import type { ContainerType } from './types.ts';

/**
 * cgroup path → container id, with the semantics of Falco's container plugin
 * (its runc-style matchers): for each known `{prefix, suffix}` layout, the
 * text between the LAST occurrence of the prefix and the last occurrence of
 * the suffix (or the end) must be a 64-hex id; the reported id is its first
 * 12 characters. Engines are tried in the plugin's order: podman, docker,
 * CRI (containerd, cri-o), plain containerd.
 *
 * Deliberate differences from the plugin (see the tests for the samples):
 * - The id must be 64 hex characters. (The plugin compares an absolute
 *   string position with 64, so on long paths a non-hex id can slip through;
 *   its own test vectors expect non-hex ids to be rejected.)
 * - Plain containerd (`ctr run`, nerdctl in cgroupfs mode: `/<namespace>/<name>`,
 *   names need not be hex) is accepted only for a configured namespace list
 *   (default `default`, `k8s.io`). The plugin accepts any first path segment,
 *   which would turn this machine's own host cgroups (`/process_api/<32 hex>`)
 *   and other two-level host cgroups into fake containers.
 */

export interface CgroupMatch {
  /** `container.id`: first 12 characters. */
  readonly id: string;
  /** The whole id when the path carries it (64 hex, or the plain-containerd name). */
  readonly fullId: string;
  /** The runtime the layout points at; the runtime's own API may refine it (e.g. containerd vs cri-o). */
  readonly type: Exclude<ContainerType, 'host'>;
}

export interface CgroupMatchOptions {
  /** containerd namespaces whose `/<namespace>/<name>` cgroups are containers. @defaultValue ['default', 'k8s.io'] */
  readonly containerdNamespaces?: readonly string[];
}

export const DEFAULT_CONTAINERD_NAMESPACES: readonly string[] = ['default', 'k8s.io'];

const FULL_ID_LENGTH = 64;
const HEX_64 = /^[0-9a-fA-F]{64}$/;

interface Layout {
  readonly prefix: string;
  readonly suffix: string;
  /** Type this layout implies; `bare` = a bare `/<64hex>` leaf, typed by its parents. */
  readonly type: Exclude<ContainerType, 'host'> | 'bare';
}

// Order matters (first match wins), as in the plugin's matcher manager.
const LAYOUTS: readonly Layout[] = [
  // podman (root, rootless, split cgroup mode)
  { prefix: '/libpod-', suffix: '.scope', type: 'podman' },
  { prefix: '/libpod-', suffix: '.scope/container', type: 'podman' },
  { prefix: '/libpod-', suffix: '', type: 'podman' },
  { prefix: '/libpod-payload-', suffix: '.scope', type: 'podman' },
  { prefix: '/libpod-payload-', suffix: '.scope/container', type: 'podman' },
  { prefix: '/libpod-payload-', suffix: '', type: 'podman' },
  // docker: cgroupfs driver, systemd driver (also cri-dockerd)
  { prefix: '/', suffix: '', type: 'bare' },
  { prefix: '/docker-', suffix: '.scope', type: 'docker' },
  // CRI: cri-o cgroupfs, containerd systemd, cri-o systemd, containerd without SystemdCgroup, nerdctl systemd
  { prefix: '/crio-', suffix: '', type: 'cri-o' },
  { prefix: '/cri-containerd-', suffix: '.scope', type: 'containerd' },
  { prefix: '/crio-', suffix: '.scope', type: 'cri-o' },
  { prefix: ':cri-containerd:', suffix: '', type: 'containerd' },
  { prefix: '/nerdctl-', suffix: '.scope', type: 'containerd' },
];

/** The 64-hex id a layout finds in `path`, or undefined. */
function matchLayout(path: string, prefix: string, suffix: string): string | undefined {
  const prefixAt = path.lastIndexOf(prefix);
  if (prefixAt === -1) return undefined;
  const start = prefixAt + prefix.length;
  const end = suffix === '' ? path.length : path.lastIndexOf(suffix);
  if (end === -1 || end - start !== FULL_ID_LENGTH) return undefined;
  const id = path.slice(start, end);
  return HEX_64.test(id) ? id : undefined;
}

/** A bare `/<64hex>` leaf: Kubernetes pods (`/kubepods/...`) are CRI (containerd; cri-o uses `crio-`). */
function typeOfBareLeaf(path: string, namespaces: readonly string[]): Exclude<ContainerType, 'host'> {
  if (/(^|\/)kubepods([./-]|$)/.test(path)) return 'containerd';
  const firstSegment = path.split('/').filter((s) => s !== '')[0] ?? '';
  if (firstSegment !== 'moby' && namespaces.includes(firstSegment)) return 'containerd';
  return 'docker';
}

/** A containerd namespace name as the plugin's pattern accepts it (alphanumerics joined by single `.`, `_` or `-`). */
const NAMESPACE_NAME = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** One cgroup path (a single hierarchy's path, e.g. `/docker/<64hex>`) → container, or undefined for the host. */
export function matchCgroupPath(path: string, options: CgroupMatchOptions = {}): CgroupMatch | undefined {
  const namespaces = options.containerdNamespaces ?? DEFAULT_CONTAINERD_NAMESPACES;
  for (const layout of LAYOUTS) {
    const fullId = matchLayout(path, layout.prefix, layout.suffix);
    if (fullId === undefined) continue;
    const type = layout.type === 'bare' ? typeOfBareLeaf(path, namespaces) : layout.type;
    return { id: fullId.slice(0, SHORT_ID_LENGTH), fullId, type };
  }
  // Plain containerd: exactly `/<namespace>/<name>`, 1..64 characters, not a systemd unit.
  const segments = path.split('/');
  if (segments.length === 3 && segments[0] === '') {
    const namespace = segments[1] ?? '';
    const name = segments[2] ?? '';
    if (
      NAMESPACE_NAME.test(namespace) &&
      namespaces.includes(namespace) &&
      name.length > 0 &&
      name.length <= FULL_ID_LENGTH &&
      !/\.(service|slice|scope)$/.test(name)
    ) {
      return { id: name.slice(0, SHORT_ID_LENGTH), fullId: name, type: 'containerd' };
    }
  }
  return undefined;
}

/** One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path` (v2: `0::/path`). */
export interface ProcCgroupLine {
  readonly hierarchyId: number;
  /** Controller names (`memory`, `cpu,cpuacct` → two, `name=systemd`); empty for cgroup v2. */
  readonly controllers: readonly string[];
  readonly path: string;
}

/** Parses `/proc/<pid>/cgroup`. Lines that are not `N:list:path` are skipped (a process may exit mid-read). */
export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const lines: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = first === -1 ? -1 : line.indexOf(':', first + 1);
    if (second === -1) continue;
    const hierarchyId = Number(line.slice(0, first));
    if (!Number.isInteger(hierarchyId) || line.slice(0, first) === '') continue;
    const list = line.slice(first + 1, second);
    lines.push({ hierarchyId, controllers: list === '' ? [] : list.split(','), path: line.slice(second + 1) });
  }
  return lines;
}

/**
 * The container of a process from its whole `/proc/<pid>/cgroup` text: the
 * first line whose path matches (the plugin walks the thread's cgroups the
 * same way), or undefined for the host.
 */
export function matchProcCgroup(text: string, options: CgroupMatchOptions = {}): CgroupMatch | undefined {
  for (const line of parseProcCgroup(text)) {
    const match = matchCgroupPath(line.path, options);
    if (match) return match;
  }
  return undefined;
}

/** `container.id` for one cgroup path: the 12-character id, or `host`. */
export function containerIdForCgroupPath(path: string, options: CgroupMatchOptions = {}): string {
  return matchCgroupPath(path, options)?.id ?? 'host';
}
