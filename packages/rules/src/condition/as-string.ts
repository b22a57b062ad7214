import type { BinaryCheckExpr, Expr, FieldOrTransformer, TransformerListExpr, ValueExpr } from './ast.ts';
import { escapeString, quoteString } from './escaping.ts';

/**
 * The canonical condition text, libs `ast::as_string` style. Falco reports it
 * as `condition_compiled`; our tests compare it byte for byte.
 */
export function asString(expr: Expr): string {
  switch (expr.kind) {
    case 'and':
      return `(${expr.children.map(asString).join(' and ')})`;
    case 'or':
      return `(${expr.children.map(asString).join(' or ')})`;
    case 'not':
      return `not ${asString(expr.child)}`;
    case 'identifier':
      return expr.name;
    case 'unary':
      return `${operandString(expr.left)} exists`;
    case 'binary':
      return `${operandString(expr.left)} ${expr.op} ${rightString(expr.right)}`;
  }
}

function rightString(right: BinaryCheckExpr['right']): string {
  switch (right.kind) {
    case 'value':
      return escapeString(right.value);
    case 'list':
      return `(${right.values.map(escapeString).join(', ')})`;
    default:
      return operandString(right);
  }
}

export function operandString(node: FieldOrTransformer | ValueExpr | TransformerListExpr): string {
  switch (node.kind) {
    case 'field':
      return node.arg === undefined ? node.field : `${node.field}[${node.arg}]`;
    case 'transformer': {
      const inner = node.values.map(operandString).join(',');
      return `${node.transformer}(${inner})${node.arg === undefined ? '' : `[${node.arg}]`}`;
    }
    case 'transformer_list':
      return `(${node.children.map(operandString).join(',')})`;
    case 'value':
      // Transformer arguments accept only quoted strings and numbers, so keep them re-parseable.
      return NUMBER.test(node.value) ? node.value : quoteString(node.value);
  }
}

const NUMBER = /^(?:0[xX][0-9a-fA-F]+|[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?)$/;
