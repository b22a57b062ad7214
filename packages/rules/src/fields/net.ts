/**
 * IP addresses and networks for field constants (`fd.sip = 10.0.0.1`,
 * `fd.snet in (10.0.0.0/8)`). Addresses become 128-bit bigints with IPv4
 * stored IPv4-mapped (::ffff:a.b.c.d), so a compiled check is one bigint
 * comparison or one shift-and-compare per event, and an IPv4 value matches
 * its mapped IPv6 spelling.
 */
import { isIP } from 'node:net';

export interface IpAddress {
  readonly family: 4 | 6;
  /** 128-bit value; IPv4 is IPv4-mapped. */
  readonly value: bigint;
}

export interface IpNetwork {
  readonly family: 4 | 6;
  /** Prefix length in the family's own bits (0..32 or 0..128). */
  readonly prefix: number;
  /** The 128-bit network address with host bits cleared. */
  readonly network: bigint;
  /** How many low bits of the 128-bit value are host bits. */
  readonly hostBits: bigint;
}

const V4_MAPPED = 0xffff00000000n;

function v4ToBigInt(text: string): bigint {
  let n = 0n;
  for (const part of text.split('.')) n = (n << 8n) | BigInt(Number(part));
  return n;
}

/**
 * Event values repeat (a node talks to a few peers), and compiled checks parse
 * the event's address on every check, so recent results are kept. The cache
 * is dropped wholesale when full: cheap, and bounded.
 */
const recent = new Map<string, IpAddress | null>();
const RECENT_MAX = 4096;

/** Parses an IPv4 or IPv6 address (inet_pton rules: no leading zeros, no prefix). */
export function parseIp(text: string): IpAddress | undefined {
  const hit = recent.get(text);
  if (hit !== undefined) return hit ?? undefined;
  const parsed = parseIpUncached(text);
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(text, parsed ? Object.freeze(parsed) : null);
  return parsed;
}

function parseIpUncached(text: string): IpAddress | undefined {
  const family = isIP(text);
  if (family === 4) return { family: 4, value: v4ToBigInt(text) | V4_MAPPED };
  if (family !== 6) return undefined;
  let body = text;
  const zone = body.indexOf('%');
  if (zone >= 0) body = body.slice(0, zone);
  let tailV4: bigint | undefined;
  const lastColon = body.lastIndexOf(':');
  if (body.includes('.', lastColon)) {
    tailV4 = v4ToBigInt(body.slice(lastColon + 1));
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const [head, tail] = body.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g || '0', 16));
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return { family: 6, value };
}

/** Parses `address/prefix`; a bare address is a host network (/32 or /128). */
export function parseCidr(text: string): IpNetwork | undefined {
  const slash = text.indexOf('/');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address) return undefined;
  const max = address.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > max) return undefined;
  }
  const hostBits = BigInt(max - prefix);
  const network = (address.value >> hostBits) << hostBits;
  return { family: address.family, prefix, network, hostBits };
}

/** True when the address lies in the network (IPv4 and IPv4-mapped IPv6 agree). */
export function ipInCidr(ip: IpAddress | bigint, net: IpNetwork): boolean {
  const v = typeof ip === 'bigint' ? ip : ip.value;
  return (v >> net.hostBits) << net.hostBits === net.network;
}

/** Formats a 128-bit value back to text: dotted for IPv4-mapped, compressed IPv6 otherwise. */
export function formatIp(value: bigint): string {
  if (value >> 32n === 0xffffn) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
