/**
 * Rules-file YAML read the way Falco's yaml-cpp reads it: every scalar is raw
 * text (`0755`, `yes`, `1.0` stay strings), "null" is only a plain `~`,
 * `null`/`Null`/`NULL` or an empty value, booleans and integers are decoded
 * on demand with yaml-cpp's rules. Nodes keep their source ranges so every
 * diagnostic can say file:line:col, down to an offset inside a condition.
 */
import { Alias, Document, LineCounter, Scalar, YAMLMap, YAMLSeq, isAlias, isMap, isScalar, isSeq, parseAllDocuments, visit } from 'yaml';
import type { ItemRef, Location } from './diagnostics.ts';

export type YamlNode = Scalar | YAMLMap | YAMLSeq;

/** One rules file: its name, text and line table. */
export class YamlFile {
  readonly lineCounter = new LineCounter();
  constructor(
    readonly name: string,
    readonly text: string,
  ) {}

  /** Location of a byte offset in this file. */
  at(offset: number, item?: ItemRef): Location {
    const { line, col } = this.lineCounter.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return item ? { file: this.name, line, col, item } : { file: this.name, line, col };
  }

  /** Start of the file (for errors about the whole content). */
  start(item?: ItemRef): Location {
    return item ? { file: this.name, line: 1, col: 1, item } : { file: this.name, line: 1, col: 1 };
  }
}

export interface ParsedYaml {
  readonly docs: Document.Parsed[];
  /** The first YAML syntax error, if any. */
  readonly error?: { message: string; offset: number };
}

export function parseYaml(file: YamlFile): ParsedYaml {
  const docs = parseAllDocuments(file.text, {
    schema: 'failsafe',
    lineCounter: file.lineCounter,
    // yaml-cpp keeps duplicate keys; a lookup finds the first one.
    uniqueKeys: false,
    prettyErrors: false,
  });
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    const err = doc.errors[0];
    if (err) {
      const firstLine = err.message.split('\n')[0] ?? err.message;
      return { docs: list, error: { message: firstLine, offset: err.pos[0] } };
    }
    // yaml-cpp refuses an alias to an anchor that does not exist; `yaml` only notices on use.
    let unknown: Alias | undefined;
    visit(doc, {
      Alias(_key, node) {
        if (node.resolve(doc) === undefined) {
          unknown = node;
          return visit.BREAK;
        }
        return undefined;
      },
    });
    if (unknown) return { docs: list, error: { message: `unknown anchor '${unknown.source}'`, offset: nodeOffset(unknown) } };
  }
  return { docs: list };
}

/** Resolves aliases; `undefined` for a missing node. */
export function deref(doc: Document.Parsed, node: unknown): YamlNode | undefined {
  let n = node;
  for (let hops = 0; isAlias(n) && hops < 100; hops++) n = (n as Alias).resolve(doc);
  if (isScalar(n) || isMap(n) || isSeq(n)) return n as YamlNode;
  return undefined;
}

const NULL_WORDS = new Set(['', '~', 'null', 'Null', 'NULL']);

/** yaml-cpp's notion of a Null node: missing value, or an untagged plain null word. */
export function isNull(node: YamlNode | undefined): boolean {
  if (node === undefined) return true;
  if (!isScalar(node)) return false;
  if (node.tag !== undefined) return false;
  return node.type === Scalar.PLAIN && NULL_WORDS.has(String(node.value));
}

export function isScalarNode(node: YamlNode | undefined): node is Scalar {
  return node !== undefined && isScalar(node) && !isNull(node);
}

export function isSeqNode(node: YamlNode | undefined): node is YAMLSeq {
  return node !== undefined && isSeq(node);
}

export function isMapNode(node: YamlNode | undefined): node is YAMLMap {
  return node !== undefined && isMap(node);
}

export function scalarText(node: Scalar): string {
  return String(node.value);
}

/** Byte offset where a node starts (0 when unknown). */
export function nodeOffset(node: unknown): number {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range ? range[0] : 0;
}

/** A key/value pair looked up in a mapping (first match, as yaml-cpp); `key:` alone has a null value. */
export interface Entry {
  readonly key: Scalar;
  readonly value: YamlNode | undefined;
}

/** Typed access to one YAML mapping of a document. */
export class MapView {
  constructor(
    readonly doc: Document.Parsed,
    readonly node: YAMLMap,
  ) {}

  get(key: string): Entry | undefined {
    for (const pair of this.node.items) {
      const k = deref(this.doc, pair.key);
      if (k !== undefined && isScalar(k) && String(k.value) === key) {
        return { key: k, value: deref(this.doc, pair.value) };
      }
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Keys in source order (scalar keys only, as text). */
  keys(): Array<{ name: string; node: unknown }> {
    const out: Array<{ name: string; node: unknown }> = [];
    for (const pair of this.node.items) {
      const k = deref(this.doc, pair.key);
      if (k !== undefined && isScalar(k)) out.push({ name: String(k.value), node: k });
      else out.push({ name: String(k ?? ''), node: pair.key });
    }
    return out;
  }
}

/** yaml-cpp `convert<bool>`: y/yes/true/on and n/no/false/off, in lower, UPPER or Capitalised case. */
export function decodeYamlBool(text: string): boolean | undefined {
  if (text === '') return undefined;
  const flexible = text === text.toLowerCase() || text === text.toUpperCase() || text === text[0]!.toUpperCase() + text.slice(1).toLowerCase();
  if (!flexible) return undefined;
  const lower = text.toLowerCase();
  if (lower === 'y' || lower === 'yes' || lower === 'true' || lower === 'on') return true;
  if (lower === 'n' || lower === 'no' || lower === 'false' || lower === 'off') return false;
  return undefined;
}

/**
 * yaml-cpp's integral `convert` for unsigned types: a C++ stream read with the
 * base taken from the prefix (`0x` hex, leading `0` octal), trailing blanks
 * allowed, nothing else; a leading `-` is refused.
 */
export function decodeYamlUnsigned(text: string, max: number): number | undefined {
  if (text.startsWith('-')) return undefined;
  const body = text.replace(/[ \t\n\r\f\v]+$/, '');
  let value: number;
  if (/^\+?0[xX][0-9a-fA-F]+$/.test(body)) value = parseInt(body.replace(/^\+/, '').slice(2), 16);
  else if (/^\+?0[0-7]*$/.test(body)) value = parseInt(body.replace(/^\+/, ''), 8);
  else if (/^\+?[1-9][0-9]*$/.test(body)) value = parseInt(body.replace(/^\+/, ''), 10);
  else return undefined;
  if (!Number.isSafeInteger(value) || value > max) return undefined;
  return value;
}

/**
 * Maps offsets inside a scalar's value back to the file. Works by walking the
 * value and the source side by side, skipping what YAML removed (indentation,
 * folded line breaks, quotes, escape backslashes). Exact for plain and block
 * scalars, close enough for quoted ones.
 */
export class ScalarOrigin {
  private table: Int32Array | undefined;

  constructor(
    readonly file: YamlFile,
    readonly node: Scalar,
    readonly item?: ItemRef,
  ) {}

  get value(): string {
    return String(this.node.value);
  }

  /** Location of the node itself. */
  location(): Location {
    return this.file.at(nodeOffset(this.node), this.item);
  }

  map(offset: number): Location {
    const table = this.build();
    if (table.length === 0) return this.location();
    const i = Math.max(0, Math.min(offset, table.length - 1));
    return this.file.at(table[i]!, this.item);
  }

  private build(): Int32Array {
    if (this.table) return this.table;
    const value = this.value;
    const range = this.node.range ?? [0, 0, 0];
    const src = this.file.text;
    let j = range[0];
    const end = range[1];
    const type = this.node.type;
    if (type === Scalar.BLOCK_FOLDED || type === Scalar.BLOCK_LITERAL) {
      const nl = src.indexOf('\n', j);
      j = nl < 0 || nl >= end ? end : nl + 1;
    } else if (type === Scalar.QUOTE_DOUBLE || type === Scalar.QUOTE_SINGLE) {
      j += 1;
    }
    const table = new Int32Array(value.length + 1);
    for (let i = 0; i < value.length; i++) {
      const c = value[i];
      while (j < end && src[j] !== c && /[\s\\"']/.test(src[j]!)) j++;
      table[i] = Math.min(j, Math.max(end - 1, range[0]));
      if (j < end && src[j] === c) j++;
    }
    table[value.length] = Math.min(j, Math.max(end, range[0]));
    this.table = table;
    return table;
  }
}
