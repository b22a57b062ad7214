import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { Expr, FieldOrTransformer, TransformerListExpr, ValueExpr } from '../src/condition/ast.ts';
import { parseCondition } from '../src/condition/parser.ts';
import {
  ConstantParseError,
  FieldArgumentError,
  UnknownFieldError,
  comparabilityError,
  fieldNames,
  fieldSpec,
  formatIp,
  ipInCidr,
  isComparable,
  isKnownEventType,
  parseCidr,
  parseConstant,
  parseIp,
  resolveField,
  suggestField,
} from '../src/fields/index.ts';
import { validateOutputFormat } from '../src/output/index.ts';

function unknown(name: string, arg?: string): UnknownFieldError {
  try {
    resolveField(name, arg);
  } catch (e) {
    assert.ok(e instanceof UnknownFieldError, `expected UnknownFieldError for ${name}, got ${String(e)}`);
    return e;
  }
  assert.fail(`expected ${name} to be unknown`);
}

function argError(name: string, arg?: string): FieldArgumentError {
  try {
    resolveField(name, arg);
  } catch (e) {
    assert.ok(e instanceof FieldArgumentError, `expected FieldArgumentError for ${name}, got ${String(e)}`);
    return e;
  }
  assert.fail(`expected ${name}${arg === undefined ? '' : `[${arg}]`} to be rejected`);
}

function badConstant(type: Parameters<typeof parseConstant>[0], text: string): string {
  try {
    parseConstant(type, text);
  } catch (e) {
    assert.ok(e instanceof ConstantParseError);
    return e.message;
  }
  assert.fail(`expected '${text}' to be rejected for ${String(type)}`);
}

test('the generated table holds libsinsp and container plugin fields with their types and flags', () => {
  const names = fieldNames();
  assert.equal(names.length, 294);
  assert.equal(new Set(names).size, names.length, 'no duplicate names');
  assert.deepEqual(fieldSpec('proc.aname')?.flags, ['argAllowed', 'noTransformer', 'noRhs', 'ancestor']);
  assert.equal(fieldSpec('evt.rawres')?.type, 'INT64');
  assert.equal(fieldSpec('proc.tty')?.type, 'UINT32');
  assert.equal(fieldSpec('container.privileged')?.type, 'BOOL');
  assert.equal(fieldSpec('container.start_ts')?.type, 'ABSTIME');
  assert.equal(fieldSpec('container.id')?.source, 'container');
  assert.equal(fieldSpec('fd.net')?.type, 'IPNET');
  assert.equal(fieldSpec('NA'), undefined, 'internal checks are not addressable');
});

test('plain fields resolve with their type; text is the name', () => {
  const f = resolveField('proc.name', undefined);
  assert.equal(f.name, 'proc.name');
  assert.equal(f.text, 'proc.name');
  assert.equal(f.type, 'CHARBUF');
  assert.equal(f.isList, false);
  assert.equal(f.arg, undefined);
  assert.equal(f.anyAncestor, undefined);
  assert.equal(resolveField('fd.num', undefined).type, 'INT64');
  assert.equal(resolveField('evt.is_open_read', undefined).type, 'BOOL');
  assert.equal(resolveField('fd.sip', undefined).type, 'IPADDR');
  // Longer names win over their prefixes: fd.sip.name is a field of its own.
  assert.equal(resolveField('fd.sip.name', undefined).name, 'fd.sip.name');
  assert.equal(resolveField('proc.exe_ino.ctime', undefined).type, 'ABSTIME');
  assert.strictEqual(resolveField('proc.name', undefined), resolveField('proc.name', undefined), 'cached');
});

test('dotted and bracketed arguments: evt.arg, labels, mounts, env, args, ancestors', () => {
  const dotted = resolveField('evt.arg.flags', undefined);
  assert.deepEqual([dotted.name, dotted.arg, dotted.text], ['evt.arg', 'flags', 'evt.arg.flags']);
  const bracket = resolveField('evt.arg', 'flags');
  assert.deepEqual([bracket.name, bracket.arg, bracket.text], ['evt.arg', 'flags', 'evt.arg[flags]']);
  assert.equal(resolveField('evt.arg', '0').text, 'evt.arg[0]');
  assert.equal(resolveField('proc.args', '1').text, 'proc.args[1]');
  assert.equal(resolveField('proc.env', 'HOME').arg, 'HOME');
  const label = resolveField('k8s.pod.label.app', undefined);
  assert.deepEqual([label.name, label.arg], ['k8s.pod.label', 'app']);
  assert.equal(resolveField('k8s.pod.label.app.kubernetes.io/name', undefined).arg, 'app.kubernetes.io/name');
  assert.equal(resolveField('k8s.pod.label', 'app').text, 'k8s.pod.label[app]');
  const mount = resolveField('container.mount.dest', '/var/run/docker.sock');
  assert.deepEqual([mount.name, mount.arg, mount.text], ['container.mount.dest', '/var/run/docker.sock', 'container.mount.dest[/var/run/docker.sock]']);
  assert.equal(resolveField('container.mount.dest', '/proc*').arg, '/proc*');
  assert.equal(resolveField('thread.cgroup.cpuacct', undefined).arg, 'cpuacct');
  assert.equal(resolveField('evt.type.is.open', undefined).arg, 'open');
  // evt.rawarg takes the parameter's type.
  assert.equal(resolveField('evt.rawarg.res', undefined).type, 'ERRNO');
  assert.equal(resolveField('evt.rawarg.flags', undefined).type, 'FLAGS32');
});

test('ancestor fields: without index anyAncestor, with index a position', () => {
  for (const name of ['proc.aname', 'proc.aexe', 'proc.aexepath', 'proc.apid']) {
    const any = resolveField(name, undefined);
    assert.equal(any.anyAncestor, true, name);
    assert.equal(any.noRhs, true);
    assert.equal(any.noTransformer, true);
    const nth = resolveField(name, '2');
    assert.equal(nth.anyAncestor, undefined);
    assert.equal(nth.text, `${name}[2]`);
  }
  assert.equal(resolveField('proc.apid', undefined).type, 'INT64');
  assert.equal(resolveField('proc.name', undefined).anyAncestor, undefined);
});

test('flags: filter-only, deprecated, list, arg required', () => {
  assert.equal(resolveField('fd.net', undefined).filterOnly, true);
  assert.equal(resolveField('fd.ip', undefined).filterOnly, true);
  assert.equal(resolveField('fd.name', undefined).filterOnly, false);
  assert.equal(resolveField('evt.dir', undefined).deprecated, true);
  assert.equal(resolveField('evt.latency', undefined).deprecated, true);
  assert.equal(resolveField('fd.types', undefined).isList, true);
  assert.equal(resolveField('evt.outputtime', undefined).printOnly, true);
  assert.equal(resolveField('evt.arg.flags', undefined).argRequired, true);
});

test('argument errors: required, forbidden, numeric index, empty, double', () => {
  assert.match(argError('evt.arg').message, /field 'evt\.arg' requires an argument, e\.g\. evt\.arg\.NAME or evt\.arg\[NAME\]/);
  assert.match(argError('k8s.pod.label').message, /requires an argument/);
  assert.match(argError('container.mount.dest').message, /requires an argument/);
  assert.match(argError('proc.aname', 'x').message, /numeric index .*got 'x'/);
  assert.match(argError('proc.args', 'one').message, /numeric index/);
  assert.match(argError('proc.env', '').message, /empty argument/);
  // libs reports a field that takes no argument as nonexistent (so skip-if-unknown-filter applies).
  const e = unknown('proc.name', '1');
  assert.match(e.message, /^filter_check called with nonexistent field proc\.name\[1\]: 'proc\.name' does not take an argument/);
  assert.match(unknown('evt.arg.flags', '0').message, /takes one argument/);
  // libs' own argument syntaxes for some event fields.
  assert.match(argError('evt.rawarg', '0').message, /^evt\.arg fields must be expressed explicitly/);
  assert.equal(resolveField('evt.abspath', undefined).arg, undefined);
  assert.equal(resolveField('evt.abspath.dst', undefined).arg, 'dst');
  assert.match(unknown('evt.abspath.foo').message, /'\.src', '\.dst'/);
  assert.equal(resolveField('evt.type.is.3', undefined).arg, '3');
  assert.match(unknown('evt.type.is.opnat').message, /unknown event type opnat/);
});

test('unknown fields: libs message plus did-you-mean', () => {
  const mode = unknown('fd.mode');
  assert.equal(mode.suggestion, 'evt.arg.mode');
  assert.match(mode.message, /^filter_check called with nonexistent field fd\.mode; did you mean 'evt\.arg\.mode'\?/);
  assert.match(mode.message, /chmod/);
  const cases: Array<[string, string]> = [
    ['proc.nme', 'proc.name'],
    ['proc.pnmae', 'proc.pname'],
    ['proc.cmdlin', 'proc.cmdline'],
    ['fd.sipname', 'fd.sip.name'],
    ['evt.typ', 'evt.type'],
    ['container.imag.repository', 'container.image.repository'],
    ['k8s.namespace', 'k8s.ns.name'],
    ['k8s.pod', 'k8s.pod.name'],
    ['fd.path', 'fd.name'],
    ['fd.dport', 'fd.sport'],
    ['proc.parent', 'proc.pname'],
    ['user.id', 'user.uid'],
    ['evt.name', 'evt.type'],
    ['evt.args.flags', 'evt.arg.flags'],
    ['proc.name.foo', 'proc.name'],
    ['thread.capabilities', 'thread.cap_effective'],
  ];
  for (const [written, expected] of cases) {
    assert.equal(suggestField(written), expected, written);
    assert.match(unknown(written).message, new RegExp(`did you mean '${expected.replaceAll('.', '\\.')}'`), written);
  }
  const far = unknown('zzz.qqqqqqqq');
  assert.equal(far.suggestion, undefined);
  assert.equal(far.message, 'filter_check called with nonexistent field zzz.qqqqqqqq');
});

test('numeric constants: decimal only, sign, width wrap, bigint beyond 2^53', () => {
  assert.equal(parseConstant('INT64', '42'), 42);
  assert.equal(parseConstant('INT64', '-1'), -1);
  assert.equal(parseConstant('INT64', '+7'), 7);
  assert.equal(parseConstant('INT64', ' 7'), 7, 'sscanf skips leading blanks');
  assert.equal(parseConstant('INT64', '010'), 10, 'decimal, not octal');
  assert.equal(parseConstant('UINT64', '18446744073709551615'), 18446744073709551615n);
  assert.equal(parseConstant('INT64', '9007199254740993'), 9007199254740993n);
  assert.equal(parseConstant('INT64', '9007199254740991'), 9007199254740991);
  assert.equal(parseConstant('UINT32', '-1'), 4294967295, 'unsigned wraps like the C cast');
  assert.equal(parseConstant('UINT16', '65537'), 1);
  assert.equal(parseConstant('PORT', '22'), 22);
  assert.equal(parseConstant('RELTIME', '5000000000'), 5000000000);
  assert.equal(parseConstant(resolveField('fd.num', undefined), '-1'), -1, 'accepts a resolved field');
  assert.equal(parseConstant('DOUBLE', '0.5'), 0.5);
  for (const bad of ['0x10', '10abc', '1.5', '', 'abc', '10 ', '1e3']) {
    assert.equal(badConstant('INT64', bad), `${bad} is not a valid number (a field of type INT64 takes a decimal integer: no hex, no trailing characters)`, bad);
  }
  assert.match(badConstant('UINT32', '0x10'), /^0x10 is not a valid number .*UINT32/);
  // 64-bit values saturate like strtoll/strtoull.
  assert.equal(parseConstant('INT64', '99999999999999999999'), 9223372036854775807n);
  assert.equal(parseConstant('UINT64', '-1'), 18446744073709551615n);
  // Ports take service names (getservbyname).
  assert.equal(parseConstant('PORT', 'ssh'), 22);
  assert.equal(parseConstant('PORT', 'https'), 443);
  assert.equal(parseConstant('PORT', '70000'), 4464, 'uint16 cast');
  assert.match(badConstant('PORT', 'nosuchservice'), /^unrecognized protocol nosuchservice/);
  assert.match(badConstant('DOUBLE', 'x'), /DOUBLE/);
});

test('bool, string, ip and network constants', () => {
  assert.equal(parseConstant('BOOL', 'true'), true);
  assert.equal(parseConstant('BOOL', 'false'), false);
  for (const bad of ['True', '1', 'yes', '']) assert.match(badConstant('BOOL', bad), /^filter error: unrecognized boolean value/);
  // Quoted values arrive unescaped: fd.typechar='f' is the string f.
  assert.equal(parseConstant(resolveField('fd.typechar', undefined), 'f'), 'f');
  assert.equal(parseConstant('CHARBUF', '0x10'), '0x10', 'strings as-is');
  assert.equal(parseConstant('FSPATH', '/etc/shadow'), '/etc/shadow');
  assert.equal(parseConstant('IPADDR', '10.0.0.1'), '10.0.0.1');
  assert.equal(parseConstant('IPADDR', '::1'), '::1');
  assert.match(badConstant('IPADDR', '10.0.0.0/8'), /^unrecognized IPv4 address 10\.0\.0\.0\/8 \(a network needs an IPNET field/);
  assert.match(badConstant('IPADDR', '10.0.0.256'), /^unrecognized IPv4 address/);
  assert.match(badConstant('IPADDR', 'fe80::zz'), /^unrecognized IPv6 address/);
  assert.match(badConstant('IPV4ADDR', '::1'), /unrecognized IPv4 address/);
  assert.equal(parseConstant('IPNET', '127.0.0.0/8'), '127.0.0.0/8');
  assert.equal(parseConstant('IPNET', 'fd00::/8'), 'fd00::/8');
  assert.equal(badConstant('IPNET', '10.0.0.0/33'), 'invalid netmask 33 in 10.0.0.0/33');
  assert.match(badConstant('IPNET', 'rfc_1918'), /^unrecognized IP network rfc_1918/);
  assert.match(badConstant('IPNET', '10.0.0.1'), /^unrecognized IP network 10\.0\.0\.1 \(expected address\/prefix/, 'libs needs the prefix');
  assert.equal(badConstant('IPNET', '10.0.0.x/8'), 'unrecognized IP address 10.0.0.x/8');
});

test('ip helpers: parse, CIDR containment, IPv4-mapped equality, formatting', () => {
  const a = parseIp('192.168.1.7')!;
  assert.equal(a.family, 4);
  assert.equal(a.value, parseIp('::ffff:192.168.1.7')!.value, 'IPv4 equals its mapped IPv6 form');
  assert.equal(parseIp('2001:db8::1')!.value, 0x20010db8000000000000000000000001n);
  assert.equal(parseIp('1.2.3'), undefined);
  assert.equal(parseIp('1.2.3'), undefined, 'invalid addresses stay invalid when cached');
  assert.strictEqual(parseIp('10.9.8.7'), parseIp('10.9.8.7'), 'recent results are reused');
  for (let i = 0; i < 5000; i++) parseIp(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(parseIp('10.9.8.7')!.value, 0xffff0a090807n, 'correct after the cache is dropped');
  assert.equal(parseIp('01.2.3.4'), undefined, 'no leading zeros (inet_pton)');
  const net = parseCidr('192.168.0.0/16')!;
  assert.equal(ipInCidr(a, net), true);
  assert.equal(ipInCidr(parseIp('192.169.0.1')!, net), false);
  assert.equal(ipInCidr(parseIp('10.1.2.3')!, parseCidr('0.0.0.0/0')!), true);
  assert.equal(ipInCidr(parseIp('fd12::1')!, parseCidr('fd00::/8')!), true);
  assert.equal(ipInCidr(parseIp('fe80::1')!, parseCidr('fd00::/8')!), false);
  assert.equal(ipInCidr(parseIp('10.0.0.1')!, parseCidr('10.0.0.1')!), true, 'a bare address is a host network');
  assert.equal(parseCidr('10.0.0.0/x'), undefined);
  assert.equal(formatIp(a.value), '192.168.1.7');
  assert.equal(formatIp(parseIp('2001:db8:0:0:0:0:0:1')!.value), '2001:db8::1');
});

test('comparability per type (libs flt_is_comparable)', () => {
  for (const op of ['=', '==', '!=', '<', '<=', '>', '>=', 'in', 'intersects', 'exists']) assert.equal(isComparable('INT64', op), true, op);
  for (const op of ['contains', 'startswith', 'glob', 'regex', 'pmatch', 'bcontains']) {
    assert.equal(comparabilityError('UINT32', op), `'${op}' operator not supported for numeric filters`);
  }
  for (const op of ['=', '!=', 'in', 'intersects', 'exists']) assert.equal(isComparable('BOOL', op), true, op);
  // libs reports booleans with the numeric wording.
  assert.equal(comparabilityError('BOOL', '<'), "'<' operator not supported for numeric filters");
  assert.equal(comparabilityError('BOOL', 'contains'), "'contains' operator not supported for numeric filters");
  for (const op of ['=', 'contains', 'icontains', 'startswith', 'endswith', 'glob', 'iglob', 'regex', 'pmatch', 'in', '<']) {
    assert.equal(isComparable('CHARBUF', op), true, op);
  }
  assert.equal(comparabilityError('FSPATH', 'bcontains'), "'bcontains' operator not supported for string filters");
  assert.equal(isComparable('BYTEBUF', 'bcontains'), true);
  assert.equal(isComparable('BYTEBUF', 'bstartswith'), true);
  assert.equal(comparabilityError('BYTEBUF', 'glob'), "'glob' operator not supported for buffer filters");
  for (const t of ['IPADDR', 'IPNET'] as const) {
    for (const op of ['=', '!=', 'in', 'intersects', 'exists']) assert.equal(isComparable(t, op), true, `${t} ${op}`);
    assert.equal(isComparable(t, 'contains'), false);
    assert.equal(isComparable(t, '<'), false);
  }
  assert.equal(comparabilityError('IPNET', 'startswith'), "'startswith' operator not supported for ip address and network filters");
  assert.equal(comparabilityError('IPADDR', '<'), "'<' operator not supported for ip address and network filters");
  assert.equal(isComparable('CHARBUF', 'in', true), true);
  assert.equal(isComparable('CHARBUF', 'exists', true), true);
  assert.equal(comparabilityError('CHARBUF', '=', true), "'=' operator not supported for list filters");
  assert.equal(isComparable('CHARBUF', '= oneof'), true, 'modifier on a string op');
  assert.equal(isComparable('INT64', 'contains anyof'), false);
});

test('known event types: syscalls, libs internal events, typos rejected', () => {
  for (const t of ['open', 'openat', 'openat2', 'execve', 'execveat', 'connect', 'ptrace', 'container', 'procexit', 'switch', 'clone', 'clone3', 'fork', 'vfork', 'init_module', 'finit_module', 'userfaultfd', 'bpf', 'setns', 'pidfd_getfd', 'memfd_create', 'chmod', 'fchmodat']) {
    assert.equal(isKnownEventType(t), true, t);
  }
  for (const t of ['opnat', 'exec', 'OPEN', '', 'evt.type']) assert.equal(isKnownEventType(t), false, t);
});

// ---- every field the upstream rules use -----------------------------------------

const rulesDir = fileURLToPath(new URL('./fixtures/falco-rules/', import.meta.url));
const RULE_FILES = ['falco_rules.yaml', 'falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml', 'falco-deprecated_rules.yaml'];

function collectFields(node: Expr | FieldOrTransformer | ValueExpr | TransformerListExpr, out: Array<{ field: string; arg?: string }>): void {
  switch (node.kind) {
    case 'and':
    case 'or':
      node.children.forEach((c) => collectFields(c, out));
      return;
    case 'not':
      collectFields(node.child, out);
      return;
    case 'unary':
      collectFields(node.left, out);
      return;
    case 'binary':
      collectFields(node.left, out);
      if (node.right.kind === 'field' || node.right.kind === 'transformer') collectFields(node.right, out);
      return;
    case 'field':
      out.push(node.arg === undefined ? { field: node.field } : { field: node.field, arg: node.arg });
      return;
    case 'transformer':
      node.values.forEach((v) => collectFields(v, out));
      return;
    case 'transformer_list':
      node.children.forEach((v) => collectFields(v, out));
      return;
    default:
      return;
  }
}

/** Field-looking tokens in a text: class prefixes of the registry followed by dotted names and an optional [arg]. */
const CLASSES = [...new Set(fieldNames().map((n) => n.slice(0, n.indexOf('.'))))].join('|');
const FIELD_TOKEN = new RegExp(`(?<![\\w.%/-])(?:${CLASSES})(?:\\.[a-zA-Z][\\w]*)+(?:\\[[^\\]\\s]*\\])?`, 'g');

test('the registry resolves every field in the upstream stable, incubating, sandbox and deprecated rules', () => {
  const seen = new Set<string>();
  let outputs = 0;
  for (const file of RULE_FILES) {
    const items = parseYaml(readFileSync(rulesDir + file, 'utf8')) as Array<Record<string, unknown>>;
    for (const item of items) {
      const condition = item.condition;
      if (typeof condition === 'string') {
        const fields: Array<{ field: string; arg?: string }> = [];
        collectFields(parseCondition(condition), fields);
        for (const f of fields) {
          const r = resolveField(f.field, f.arg);
          seen.add(r.text);
        }
        // The regex scan agrees with the parser: every field-looking token resolves.
        for (const m of condition.matchAll(FIELD_TOKEN)) {
          const token = m[0];
          const open = token.indexOf('[');
          resolveField(open < 0 ? token : token.slice(0, open), open < 0 ? undefined : token.slice(open + 1, -1));
        }
      }
      const output = item.output;
      if (typeof output === 'string') {
        outputs++;
        const errors = validateOutputFormat(output.trim()).filter((i) => i.severity === 'error');
        assert.deepEqual(errors, [], `${file}: rule ${String(item.rule)} output`);
        for (const m of output.matchAll(/%(\d*)([a-zA-Z][\w]*(?:\.[a-zA-Z][\w]*)+)(\[[^\]]*\])?/g)) {
          const r = resolveField(m[2]!, m[3]?.slice(1, -1));
          assert.equal(r.filterOnly, false, r.text);
          seen.add(r.text);
        }
      }
    }
  }
  assert.ok(outputs > 90, `outputs checked: ${outputs}`);
  // Spot checks that the scan really covered the interesting shapes.
  for (const t of ['proc.aname[2]', 'proc.aname', 'evt.arg.request', 'fd.snet', 'container.mount.dest[/var/run/docker.sock]', 'proc.aexepath[2]', 'evt.buffer', 'proc.env']) {
    assert.ok(seen.has(t), `expected ${t} among the upstream fields`);
  }
  assert.ok(seen.size >= 100, `distinct fields: ${seen.size}`);
});
