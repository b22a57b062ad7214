/**
 * Generates src/fields/table.generated.ts from the libsinsp and container
 * plugin field tables (and the exit-event parameter table, for the types of
 * `evt.rawarg.X`). The output is committed: a user's clone has no
 * ../shared fixtures, so the registry's data must live in the package.
 *
 * Run: node --import tsx packages/rules/scripts/gen-fields.ts [fixturesDir]
 * (default fixtures dir: /work/shared/fixtures/falco-rules)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

interface LibsField {
  name: string;
  type: string;
  flags: string;
  desc: string;
  table: string;
}
interface PluginField {
  name: string;
  type: string;
  arg: string;
  desc: string;
}
interface EventParams {
  evt_types_used_by_rules: string[];
  exit_events: Record<string, Array<{ name: string; params: Array<{ name: string; type: string }> }>>;
}

const fixtures = process.argv[2] ?? '/work/shared/fixtures/falco-rules';
const outPath = fileURLToPath(new URL('../src/fields/table.generated.ts', import.meta.url));

const libs = JSON.parse(readFileSync(join(fixtures, 'fields_libsinsp.json'), 'utf8')) as LibsField[];
const plugin = JSON.parse(readFileSync(join(fixtures, 'fields_container_plugin.json'), 'utf8')) as PluginField[];
const params = JSON.parse(readFileSync(join(fixtures, 'event_params_for_rule_evttypes.json'), 'utf8')) as EventParams;

/** libs ppm_param_type → our FieldType. Rendered-only types (socket tuples, addresses) are text. */
const PT: Record<string, string> = {
  PT_CHARBUF: 'CHARBUF',
  PT_BYTEBUF: 'BYTEBUF',
  PT_FSPATH: 'FSPATH',
  PT_FSRELPATH: 'FSRELPATH',
  PT_UINT8: 'UINT8',
  PT_UINT16: 'UINT16',
  PT_UINT32: 'UINT32',
  PT_UINT64: 'UINT64',
  PT_INT8: 'INT8',
  PT_INT16: 'INT16',
  PT_INT32: 'INT32',
  PT_INT64: 'INT64',
  PT_BOOL: 'BOOL',
  PT_IPV4ADDR: 'IPV4ADDR',
  PT_IPV6ADDR: 'IPV6ADDR',
  PT_IPADDR: 'IPADDR',
  PT_IPNET: 'IPNET',
  PT_PORT: 'PORT',
  PT_L4PROTO: 'L4PROTO',
  PT_SOCKFAMILY: 'SOCKFAMILY',
  PT_ABSTIME: 'ABSTIME',
  PT_RELTIME: 'RELTIME',
  PT_DOUBLE: 'DOUBLE',
  PT_ERRNO: 'ERRNO',
  PT_FD: 'FD',
  PT_PID: 'PID',
  PT_SIGTYPE: 'SIGTYPE',
  PT_MODE: 'MODE',
  PT_SYSCALLID: 'SYSCALLID',
  PT_FLAGS8: 'FLAGS8',
  PT_FLAGS16: 'FLAGS16',
  PT_FLAGS32: 'FLAGS32',
  PT_ENUMFLAGS8: 'FLAGS8',
  PT_ENUMFLAGS16: 'FLAGS16',
  PT_ENUMFLAGS32: 'FLAGS32',
  PT_UID: 'UID',
  PT_GID: 'GID',
  PT_SOCKTUPLE: 'CHARBUF',
  PT_SOCKADDR: 'CHARBUF',
  // evt.rawarg: the real type is the argument's; see EVENT_PARAM_TYPES.
  PT_DYN: 'CHARBUF',
};
const PLUGIN_TYPES: Record<string, string> = {
  string: 'CHARBUF',
  bool: 'BOOL',
  uint64: 'UINT64',
  abstime: 'ABSTIME',
  reltime: 'RELTIME',
  ipaddr: 'IPADDR',
  ipnet: 'IPNET',
};

// Argument syntax per field (libs parses each field class's argument itself).
const INDEX_ARG = new Set(['proc.aname', 'proc.aexe', 'proc.aexepath', 'proc.apid', 'proc.aargs', 'proc.acmdline', 'proc.args', 'fd.types', 'evt.around']);
const KEY_ARG = new Set(['proc.env', 'thread.cgroup', 'evt.type.is', 'evt.abspath']);
/** Fields whose argument may also be appended with a dot: evt.arg.flags, k8s.pod.label.app, thread.cgroup.cpuacct. */
const DOTTED_ARG = new Set(['evt.arg', 'evt.rawarg', 'evt.type.is', 'evt.abspath', 'thread.cgroup']);
/** Without an index these mean "some ancestor" in filters. */
const ANCESTOR = new Set(['proc.aname', 'proc.aexe', 'proc.aexepath', 'proc.apid', 'proc.aargs', 'proc.acmdline', 'proc.aenv']);

function shortDesc(desc: string): string {
  const flat = desc.replace(/\s+/g, ' ').trim();
  const stop = flat.search(/(?<!\be\.g|\bi\.e)\.\s+(?=[A-Z[(])/);
  let first = stop > 0 ? flat.slice(0, stop + 1) : flat;
  if (first.length > 200) first = `${first.slice(0, 197)}...`;
  return first;
}

interface Row {
  name: string;
  type: string;
  flags: string[];
  arg: 'none' | 'index' | 'key' | 'any';
  desc: string;
  source: 'libsinsp' | 'container';
}

const rows: Row[] = [];
const seen = new Set<string>();
for (const f of libs) {
  if (f.name === 'NA') continue; // internal raw/list checks, not addressable by name
  const type = PT[f.type];
  if (!type) throw new Error(`unknown libsinsp type ${f.type} for ${f.name}`);
  const has = (flag: string): boolean => f.flags.includes(flag);
  const flags: string[] = [];
  if (has('EPF_ARG_REQUIRED')) flags.push('argRequired');
  if (has('EPF_ARG_ALLOWED') || has('EPF_ARG_REQUIRED')) flags.push('argAllowed');
  if (DOTTED_ARG.has(f.name)) flags.push('dottedArg');
  if (has('EPF_NO_TRANSFORMER')) flags.push('noTransformer');
  if (has('EPF_NO_RHS')) flags.push('noRhs');
  if (has('EPF_FILTER_ONLY')) flags.push('filterOnly');
  if (has('EPF_PRINT_ONLY')) flags.push('printOnly');
  if (has('EPF_TABLE_ONLY')) flags.push('tableOnly');
  if (has('EPF_DEPRECATED')) flags.push('deprecated');
  if (has('EPF_IS_LIST')) flags.push('isList');
  if (ANCESTOR.has(f.name)) flags.push('ancestor');
  const argAllowed = flags.includes('argAllowed');
  const arg = !argAllowed ? 'none' : INDEX_ARG.has(f.name) ? 'index' : KEY_ARG.has(f.name) ? 'key' : 'any';
  rows.push({ name: f.name, type, flags, arg, desc: shortDesc(f.desc), source: 'libsinsp' });
  seen.add(f.name);
}
for (const f of plugin) {
  if (seen.has(f.name)) continue;
  const type = PLUGIN_TYPES[f.type];
  if (!type) throw new Error(`unknown plugin type ${f.type} for ${f.name}`);
  const flags: string[] = [];
  const argSpec = f.arg.split(',').map((s) => s.trim());
  const required = argSpec.includes('Required');
  const index = argSpec.includes('Index');
  const key = argSpec.includes('Key');
  if (required) flags.push('argRequired');
  if (index || key || required) flags.push('argAllowed');
  // k8s.pod.label.app and container.label.foo: the dotted key form (documented for labels).
  if (key && !index && f.name.endsWith('.label')) flags.push('dottedArg');
  const arg = !(index || key) ? 'none' : index && key ? 'any' : index ? 'index' : 'key';
  rows.push({ name: f.name, type, flags, arg, desc: shortDesc(f.desc), source: 'container' });
  seen.add(f.name);
}

// evt.rawarg.X: the parameter's type, first declaration wins (most names have one type).
const paramTypes = new Map<string, string>();
for (const variants of Object.values(params.exit_events)) {
  for (const ev of variants) {
    for (const p of ev.params) {
      if (paramTypes.has(p.name)) continue;
      const t = PT[p.type];
      if (t) paramTypes.set(p.name, t);
    }
  }
}

// Linux syscall names (x86_64 table plus the generic one arm64 uses): any of them is a valid evt.type.
const syscallHeaders = ['/usr/include/x86_64-linux-gnu/asm/unistd_64.h', '/usr/include/asm-generic/unistd.h'];
const syscalls = new Set<string>();
for (const h of syscallHeaders) {
  let text: string;
  try {
    text = readFileSync(h, 'utf8');
  } catch {
    continue;
  }
  for (const m of text.matchAll(/^#define\s+__NR(?:3264)?_([a-z0-9_]+)\s/gm)) {
    if (m[1] !== 'syscalls' && m[1] !== 'arch_specific_syscall') syscalls.add(m[1]!);
  }
}
if (syscalls.size < 300) throw new Error(`found only ${syscalls.size} syscall names in ${syscallHeaders.join(', ')}`);

const q = (s: string): string => JSON.stringify(s);
let out = `// Generated by packages/rules/scripts/gen-fields.ts from fields_libsinsp.json,
// fields_container_plugin.json and event_params_for_rule_evttypes.json. Do not edit:
// re-run the script instead.
import type { FieldType } from '../extract.ts';

export type FieldFlag =
  | 'argRequired'
  | 'argAllowed'
  | 'dottedArg'
  | 'noTransformer'
  | 'noRhs'
  | 'filterOnly'
  | 'printOnly'
  | 'tableOnly'
  | 'deprecated'
  | 'isList'
  | 'ancestor';

/** How a field's argument is written: a number, a key (name/path), or either. */
export type FieldArgKind = 'none' | 'index' | 'key' | 'any';

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly flags: readonly FieldFlag[];
  readonly arg: FieldArgKind;
  readonly desc: string;
  readonly source: 'libsinsp' | 'container';
}

export const FIELD_SPECS: readonly FieldSpec[] = [
`;
for (const r of rows) {
  out += `  { name: ${q(r.name)}, type: ${q(r.type)}, flags: [${r.flags.map(q).join(', ')}], arg: ${q(r.arg)}, source: ${q(r.source)}, desc: ${q(r.desc)} },\n`;
}
out += `];

/** Types of syscall exit-event parameters by name (for \`evt.rawarg.<name>\`). */
export const EVENT_PARAM_TYPES: Readonly<Record<string, FieldType>> = {
`;
for (const [name, t] of [...paramTypes].sort(([a], [b]) => (a < b ? -1 : 1))) out += `  ${q(name)}: ${q(t)},\n`;
out += `};

/** The event types the upstream rules files reference. */
export const RULE_EVENT_TYPES: readonly string[] = ${JSON.stringify(params.evt_types_used_by_rules)};

/** Linux syscall names (from the kernel UAPI headers at generation time). */
export const SYSCALL_NAMES: readonly string[] = ${JSON.stringify([...syscalls].sort())};
`;
writeFileSync(outPath, out);
console.log(`wrote ${outPath}: ${rows.length} fields, ${paramTypes.size} event parameters`);
