/** A template that cannot be compiled: says where (1-based line/column) and what. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  readonly code = 'PGR_SINKS_TEMPLATE_INVALID';
  constructor(
    readonly line: number,
    readonly column: number,
    readonly detail: string,
    source: string,
  ) {
    super(`template error at line ${line}, column ${column}: ${detail}\n${excerpt(source, line, column)}`);
  }
}

function excerpt(source: string, line: number, column: number): string {
  const text = source.split('\n')[line - 1] ?? '';
  return `  ${text}\n  ${' '.repeat(Math.max(0, column - 1))}^`;
}

/** Maps an offset in the source to a 1-based line and column. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
