/**
 * Engine and plugin version requirements (libs `version.h`, Falco
 * `rule_loader_reader.cpp`): `required_engine_version: 17` means 0.17.0; a
 * string must start with `x.y.z`; a requirement is met by the same major
 * version at or above the required one.
 */

/**
 * The Falco engine version whose rules language Peregrine implements
 * (falcosecurity/falco master, engine 0.63.0). Rules files declaring any
 * 0.x.y ≤ this load.
 */
export const ENGINE_VERSION = '0.63.0';

/**
 * Plugins whose fields Peregrine provides itself. The `container` plugin's
 * `container.*` and `k8s.*` fields are built into the sensor, at the level of
 * container plugin 0.4.0 (the version falcosecurity/rules 5.x require).
 */
export const BUILTIN_PLUGIN_VERSIONS: Readonly<Record<string, string>> = { container: '0.4.0' };

export interface Semver {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** libs `sinsp_version`: `sscanf("%u.%u.%u")`, so trailing text (`-rc1`) is ignored. */
export function parseSemver(text: string): Semver | undefined {
  const m = /^\s*\+?(\d+)\.\s*\+?(\d+)\.\s*\+?(\d+)/.exec(text);
  if (!m) return undefined;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![major, minor, patch].every((n) => Number.isSafeInteger(n) && n <= 0xffffffff)) return undefined;
  return { major, minor, patch };
}

export function formatSemver(v: Semver): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

export function compareSemver(a: Semver, b: Semver): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** `have.compatible_with(required)`: same major, and at least the required version. */
export function isCompatible(have: Semver, required: Semver): boolean {
  return have.major === required.major && compareSemver(have, required) >= 0;
}
