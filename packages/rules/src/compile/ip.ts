import { isIP } from 'node:net';
import { ConditionCompileError } from './errors.ts';

/**
 * IP comparisons for `fd.ip`, `fd.net`, `fd.snet`…: a constant is an address
 * (equality) or a CIDR network (containment). Addresses are compared as
 * 128-bit numbers so that IPv6 spellings and IPv4-mapped forms agree.
 */
function toBigInt(address: string): bigint | undefined {
  const family = isIP(address);
  if (family === 4) {
    const parts = address.split('.').map(Number);
    return BigInt(((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) | 0xffff00000000n;
  }
  if (family === 6) {
    let text = address;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const n = toBigInt(v4[1]!)! & 0xffffffffn;
      text = text.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
  }
  return undefined;
}

export function ipMatcher(constant: string): (value: string) => boolean {
  const slash = constant.indexOf('/');
  if (slash < 0) {
    const want = toBigInt(constant);
    if (want === undefined) throw new ConditionCompileError(`'${constant}' is not a valid IP address`);
    return (value) => toBigInt(value) === want;
  }
  const base = toBigInt(constant.slice(0, slash));
  const bits = Number(constant.slice(slash + 1));
  const isV4 = isIP(constant.slice(0, slash)) === 4;
  const max = isV4 ? 32 : 128;
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > max) {
    throw new ConditionCompileError(`'${constant}' is not a valid IP network (address/prefix-length)`);
  }
  const shift = BigInt(128 - (isV4 ? 96 + bits : bits));
  const network = base >> shift;
  return (value) => {
    const v = toBigInt(value);
    return v !== undefined && v >> shift === network;
  };
}
