// Public entry of @peregrine/config-reference: re-exports only.
export { schemaReference, referenceRows } from './reference.ts';
export type { ReferenceRow } from './reference.ts';
export { replaceGeneratedBlock } from './markers.ts';
export type { GeneratedBlock } from './markers.ts';
