/**
 * Lists are text substitution before parsing (Falco `resolve_list`): every
 * occurrence of a list's name bounded by start/end or one of ` \t\n\r(),=`
 * becomes `" " + items.join(", ") + " "`, eating the blanks around it. The
 * scan ignores quoting, exactly like Falco.
 */
import type { ListInfo } from './collector.ts';
import type { MappedText } from './mapped-text.ts';

const BLANKS = ' \t\n\r';
const DELIMS = BLANKS + '(),=';

/** A list after one level of list-in-list expansion, as the compiler uses it. */
export interface CompiledList {
  readonly name: string;
  readonly items: readonly string[];
  used: boolean;
}

/**
 * Falco `quote_item`: an item with a space that is not already quoted gets
 * double quotes (no escaping; Falco notes this breaks string escaping).
 */
export function quoteItem(e: string): string {
  if (e.includes(' ') && e[0] !== '"' && e[0] !== "'") return `"${e}"`;
  return e;
}

/**
 * Falco `compile_list_infos`: an item naming a list defined before this
 * list's last (re)definition is replaced by that list's raw items; one level.
 */
export function compileLists(infos: ReadonlyMap<string, ListInfo>): Map<string, CompiledList> {
  const out = new Map<string, CompiledList>();
  const usedNames: string[] = [];
  for (const list of infos.values()) {
    const items: string[] = [];
    for (const item of list.items) {
      const ref = infos.get(item);
      if (ref && ref.index < list.visibility) {
        usedNames.push(ref.name);
        items.push(...ref.items);
      } else {
        items.push(item);
      }
    }
    out.set(list.name, { name: list.name, items, used: false });
  }
  for (const n of usedNames) out.get(n)!.used = true;
  return out;
}

/** Substitutes one list into the condition; returns whether it occurred. */
function resolveList(cnd: MappedText, list: CompiledList): { text: MappedText; used: boolean } {
  let text = cnd;
  let used = false;
  const name = list.name;
  let start = text.text.indexOf(name);
  while (start !== -1) {
    const s = text.text;
    let end = start + name.length;
    if ((start === 0 || DELIMS.includes(s[start - 1]!)) && (end >= s.length || DELIMS.includes(s[end]!))) {
      while (start > 0 && BLANKS.includes(s[start - 1]!)) start--;
      while (end < s.length && BLANKS.includes(s[end]!)) end++;
      const sub = list.items.map(quoteItem).join(', ');
      if (sub === '') {
        // An empty list also takes one adjacent comma with it.
        if (start > 0 && s[start - 1] === ',') start--;
        else if (end < s.length && s[end] === ',') end++;
      }
      text = text.replace(start, end, (start > 0 ? ' ' : '') + sub + ' ');
      // Same cursor arithmetic as Falco, including its quirks.
      start += sub.length + 1;
      used = true;
    }
    start = text.text.indexOf(name, start + 1);
  }
  return { text, used };
}

/**
 * Applies every list, in definition order, to a condition. There is no
 * visibility between conditions and lists: any list collected so far counts.
 */
export function substituteLists(cond: MappedText, lists: ReadonlyMap<string, CompiledList>): MappedText {
  let text = cond;
  for (const list of lists.values()) {
    if (!text.text.includes(list.name)) continue;
    const r = resolveList(text, list);
    if (r.used) list.used = true;
    text = r.text;
  }
  return text;
}
