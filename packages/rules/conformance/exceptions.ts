/**
 * Conformance cases we knowingly do not pass: case id → reason.
 * Every entry must also be listed, with the same reason, in docs/conformance.md.
 * `npm run conformance` fails on any failing case not listed here, and
 * reports entries that pass again so they can be removed.
 */
export const EXCEPTIONS: Readonly<Record<string, string>> = {};
