/**
 * The TypeScript layout (native/ts/layout.ts) against the C header
 * (native/src/pg_event.h), field by field: a generated C program prints
 * sizeof/offsetof of every field of every struct in the header, and the value
 * of every #define and enum pg_syscall member; each must match its TS
 * constant. A struct, field or constant added to the header without a TS
 * counterpart (or a reason it has none, below) fails the test too.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import {
  ARG_COUNT,
  BLOB_PREFIX,
  COMM_SIZE,
  DESC_SIZE,
  DescArg,
  DescFlag,
  DescOffset,
  DescSock,
  EVENT_LAYOUT_VERSION,
  EXEC_INFO_SIZE,
  ExecInfoOffset,
  ExeFlag,
  FD_PAIR_SIZE,
  FdPairOffset,
  H,
  HEADER_SIZE,
  HeaderFlag,
  Kind,
  MAX_SYSCALL_NR,
  OPEN_HOW_SIZE,
  OpenHowOffset,
  PREFIX_MAX,
  SYSCALLS,
  SYSCALL_BY_NAME,
  TUPLE_ADDR_SIZE,
  TUPLE_SIZE,
  Tag,
  TupleOffset,
} from '../ts/layout.ts';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const HEADER = join(SRC, 'pg_event.h');

interface StructMirror {
  readonly size: number;
  readonly offsets: Readonly<Record<string, number>>;
}

/** The structs the TS side reads or writes, by C name. */
const MIRRORED: Record<string, StructMirror> = {
  pg_event_header: { size: HEADER_SIZE, offsets: H },
  pg_tuple: { size: TUPLE_SIZE, offsets: TupleOffset },
  pg_exec_info: { size: EXEC_INFO_SIZE, offsets: ExecInfoOffset },
  pg_fd_pair: { size: FD_PAIR_SIZE, offsets: FdPairOffset },
  pg_sc_desc: { size: DESC_SIZE, offsets: DescOffset },
  // Not in pg_event.h: the kernel's struct, copied into the OPENHOW blob as is.
  open_how: { size: OPEN_HOW_SIZE, offsets: OpenHowOffset },
};
/** Structs of the header the TS side never sees, and why. */
const C_ONLY_STRUCTS: Record<string, string> = {
  pg_counters: 'read and summed by the addon, which hands JS plain numbers',
  pg_prefix_key: 'built by the addon from the path prefix strings',
};
/** Array fields whose element count the decoder uses. */
const ARRAY_BYTES: Record<string, number> = {
  'pg_event_header.comm': COMM_SIZE,
  'pg_event_header.args': ARG_COUNT * 8,
  'pg_tuple.saddr': TUPLE_ADDR_SIZE,
  'pg_tuple.daddr': TUPLE_ADDR_SIZE,
};

/** Every #define with a value and every enum pg_syscall member: the TS value, or why TS has none. */
function tsConstant(name: string): number | { cOnly: string } | undefined {
  const rest = (prefix: string): string | undefined => (name.startsWith(prefix) ? name.slice(prefix.length) : undefined);
  const fixed: Record<string, number | { cOnly: string }> = {
    PG_EVENT_LAYOUT_VERSION: EVENT_LAYOUT_VERSION,
    PG_HEADER_SIZE: HEADER_SIZE,
    PG_BLOB_PREFIX: BLOB_PREFIX,
    PG_MAX_SYSCALL_NR: MAX_SYSCALL_NR,
    PG_PREFIX_MAX: PREFIX_MAX,
    PG_SC_NONE: 0, // sched records carry syscall id 0
    PG_SC_COUNT: SYSCALLS.length + 1,
    PG_PATH_MAX: { cOnly: 'a bound on what the probe copies; the decoder reads each blob length' },
    PG_ARGV_MAX: { cOnly: 'a bound on what the probe copies; the decoder reads each blob length' },
    PG_ENV_MAX: { cOnly: 'a bound on what the probe copies; the decoder reads each blob length' },
    PG_CGROUP_DEPTH: { cOnly: 'a bound on the cgroup walk; a cut path sets the record truncated flag' },
  };
  if (name in fixed) return fixed[name];
  const groups: Array<[string, Readonly<Record<string, number>>]> = [
    ['PG_KIND_', Kind],
    ['PG_TAG_', Tag],
    ['PG_HF_', HeaderFlag],
    ['PG_ARG_', DescArg],
    ['PG_SOCK_', DescSock],
    ['PG_DESC_', DescFlag],
    ['PG_EXE_', ExeFlag],
  ];
  for (const [prefix, values] of groups) {
    const key = rest(prefix);
    if (key !== undefined) return values[key];
  }
  const sc = rest('PG_SC_');
  if (sc !== undefined) return SYSCALL_BY_NAME.get(sc.toLowerCase())?.id;
  return undefined;
}

const camel = (snake: string): string => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

interface HeaderShape {
  structs: Map<string, string[]>;
  constants: string[];
}

/** The structs (with their field names), #defines with a value and enum members of pg_event.h. */
function parseHeader(text: string): HeaderShape {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '');
  const structs = new Map<string, string[]>();
  for (const m of code.matchAll(/struct\s+(\w+)\s*\{([^}]*)\}\s*;/g)) {
    const fields = [...m[2].matchAll(/^\s*[\w ]+?\s+(\w+)\s*(?:\[[^\]]*\])?\s*;/gm)].map((f) => f[1]);
    assert.ok(fields.length > 0, `no fields parsed in struct ${m[1]}`);
    structs.set(m[1], fields);
  }
  const constants = [...code.matchAll(/^#define[ \t]+(PG_\w+)[ \t]+\S/gm)].map((m) => m[1]);
  const en = /enum\s+pg_syscall\s*\{([^}]*)\}/.exec(code);
  assert.ok(en, 'enum pg_syscall not found');
  constants.push(...en[1].split(',').map((s) => s.trim().split(/\s|=/)[0]).filter(Boolean));
  return { structs, constants };
}

interface Measured {
  structSize: Map<string, number>;
  field: Map<string, { offset: number; size: number }>;
  constant: Map<string, number>;
}

let dir: string;
let shape: HeaderShape;
let measured: Measured;

before(() => {
  shape = parseHeader(readFileSync(HEADER, 'utf8'));
  const structs = new Map(shape.structs);
  structs.set('open_how', ['flags', 'mode', 'resolve']);
  const lines: string[] = [];
  for (const [s, fields] of structs) {
    lines.push(`  printf("struct ${s} %zu\\n", sizeof(struct ${s}));`);
    for (const f of fields) {
      lines.push(`  printf("field ${s}.${f} %zu %zu\\n", offsetof(struct ${s}, ${f}), sizeof(((struct ${s} *)0)->${f}));`);
    }
  }
  for (const c of shape.constants) lines.push(`  printf("const ${c} %lld\\n", (long long)(${c}));`);
  const program = ['#include <stddef.h>', '#include <stdio.h>', '#include <linux/openat2.h>', '#include "pg_event.h"', 'int main(void) {', ...lines, '  return 0;', '}', ''].join('\n');
  dir = mkdtempSync(join(tmpdir(), 'pg-layout-'));
  writeFileSync(join(dir, 'layout.c'), program);
  execFileSync('cc', ['-std=c11', '-Wall', '-Werror', '-I', SRC, '-o', join(dir, 'layout'), join(dir, 'layout.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const out = execFileSync(join(dir, 'layout'), { encoding: 'utf8' });
  measured = { structSize: new Map(), field: new Map(), constant: new Map() };
  for (const line of out.trim().split('\n')) {
    const [what, name, a, b] = line.split(' ');
    if (what === 'struct') measured.structSize.set(name, Number(a));
    else if (what === 'field') measured.field.set(name, { offset: Number(a), size: Number(b) });
    else measured.constant.set(name, Number(a));
  }
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TS layout against the C header (offsetof/sizeof from a compiled program)', () => {
  test('every struct of pg_event.h is mirrored in layout.ts or named as C-only', () => {
    for (const s of shape.structs.keys()) {
      assert.ok(s in MIRRORED || s in C_ONLY_STRUCTS, `struct ${s} is new in pg_event.h: mirror it in layout.ts (and MIRRORED here) or add it to C_ONLY_STRUCTS with a reason`);
    }
    for (const s of Object.keys(MIRRORED)) assert.ok(s === 'open_how' || shape.structs.has(s), `struct ${s} is gone from pg_event.h`);
  });

  for (const [s, mirror] of Object.entries(MIRRORED)) {
    test(`struct ${s}: size, and the offset and size of every field`, () => {
      assert.equal(mirror.size, measured.structSize.get(s), `sizeof(struct ${s})`);
      const cFields = [...measured.field.keys()].filter((k) => k.startsWith(`${s}.`)).map((k) => k.slice(s.length + 1));
      assert.deepEqual(Object.keys(mirror.offsets).sort(), cFields.map(camel).sort(), `fields of struct ${s} (C names in camelCase)`);
      // In TS a field runs to the next field's offset (the last to the struct's end): that extent
      // must be the C field's size, so a widened field or implicit padding shows up too.
      const cNameOf = (tsName: string): string => cFields.find((c) => camel(c) === tsName)!;
      for (const [tsName, offset] of Object.entries(mirror.offsets)) {
        const c = measured.field.get(`${s}.${cNameOf(tsName)}`)!;
        assert.equal(offset, c.offset, `offsetof(struct ${s}, ${cNameOf(tsName)}) is ${c.offset}, layout.ts says ${offset}`);
      }
      const ordered = Object.entries(mirror.offsets).sort((x, y) => x[1] - y[1]);
      ordered.forEach(([tsName, offset], i) => {
        const c = measured.field.get(`${s}.${cNameOf(tsName)}`)!;
        const extent = (ordered[i + 1]?.[1] ?? mirror.size) - offset;
        assert.equal(extent, c.size, `sizeof(struct ${s}.${cNameOf(tsName)}) is ${c.size}, layout.ts leaves ${extent} bytes`);
      });
    });
  }

  test('array fields the decoder walks have the element counts it uses', () => {
    for (const [field, bytes] of Object.entries(ARRAY_BYTES)) {
      assert.equal(measured.field.get(field)?.size, bytes, field);
    }
  });

  test('every #define and enum pg_syscall value equals its TS constant', () => {
    assert.ok(shape.constants.length > 60, `parsed ${shape.constants.length} constants`);
    for (const name of shape.constants) {
      const ts = tsConstant(name);
      assert.notEqual(ts, undefined, `${name} has no TS counterpart: add it to layout.ts (and tsConstant here) or mark it C-only with a reason`);
      if (typeof ts === 'number') assert.equal(ts, measured.constant.get(name), `${name} is ${measured.constant.get(name)} in C, ${ts} in layout.ts`);
    }
    // And the other way: every syscall TS knows is in the C enum.
    for (const s of SYSCALLS) assert.ok(shape.constants.includes(`PG_SC_${s.name.toUpperCase()}`), `syscall ${s.name} missing from enum pg_syscall`);
  });
});
