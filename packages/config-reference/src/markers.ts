/** Where a generated reference lives in a Markdown document. */
export interface GeneratedBlock {
  /** The document's name in error messages, e.g. docs/hub.md. */
  readonly doc: string;
  readonly begin: string;
  readonly end: string;
}

/**
 * The document with the text between `block.begin` and `block.end` replaced
 * by `generated` (one newline on each side). Throws, naming the document and
 * the markers, when they are missing or out of order.
 */
export function replaceGeneratedBlock(markdown: string, block: GeneratedBlock, generated: string): string {
  const begin = markdown.indexOf(block.begin);
  const end = markdown.indexOf(block.end, begin < 0 ? 0 : begin);
  if (begin < 0 || end < 0) throw new Error(`${block.doc} lacks the markers of its generated reference: add the lines\n${block.begin}\n${block.end}\nwhere it belongs`);
  return `${markdown.slice(0, begin + block.begin.length)}\n${generated}\n${markdown.slice(end)}`;
}
