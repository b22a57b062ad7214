import type { Alert, OutputFieldValue, Priority } from '@peregrine/alert';
import { formatReadableTime, parseFalcoTime } from '../falco/falco-time.ts';
import { escapeSlackText } from '../template/template.ts';
import type { RenderTemplate } from '../template/template.ts';
import type { SlackSettings } from './slack-settings.ts';

/** Attachment colours by priority, as Falcosidekick (outputs/constants.go). */
export const SLACK_COLORS: Readonly<Record<Priority, string>> = {
  Emergency: '#e20b0b',
  Alert: '#ff5400',
  Critical: '#ff5400',
  Error: '#e20b0b',
  Warning: '#ffc700',
  Notice: '#5bffb5',
  Informational: '#68c2ff',
  Debug: '#ccfff2',
};

/** Falcosidekick marks a field short when its value is under 36 characters. */
const SHORT_FIELD_CHARS = 36;

export interface SlackField {
  title: string;
  value: string;
  short: boolean;
}

export interface SlackAttachment {
  fallback: string;
  color: string;
  text?: string;
  fields?: SlackField[];
  footer?: string;
  /** Epoch seconds: Slack shows it in the reader's own time zone next to the footer. */
  ts?: string;
}

/** An incoming-webhook body (legacy attachments, as Falcosidekick sends). */
export interface SlackMessage {
  text?: string;
  username: string;
  icon_url?: string;
  icon_emoji?: string;
  channel?: string;
  attachments: SlackAttachment[];
}

/** Values as Falco prints them: null is `<NA>`, lists are comma-joined; numbers and booleans are kept (Falcosidekick drops them). */
function fieldText(value: OutputFieldValue): string {
  if (value === null) return '<NA>';
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

function field(title: string, value: string, short: boolean): SlackField {
  return { title, value: escapeSlackText(value), short };
}

/**
 * Builds the message for one alert. Fields: rule, priority, source,
 * hostname, tags, every output field (sorted by key) and the time.
 */
export function buildSlackMessage(alert: Alert, settings: SlackSettings, messageFormat?: RenderTemplate): SlackMessage {
  const format = settings.outputFormat;
  const attachment: SlackAttachment = {
    fallback: alert.output,
    color: SLACK_COLORS[alert.priority] ?? '#ccfff2',
  };
  if (format === 'all' || format === 'text') attachment.text = escapeSlackText(alert.output);
  const time = parseFalcoTime(alert.time);
  if (format === 'all' || format === 'fields') {
    const fields: SlackField[] = [
      field('rule', alert.rule, true),
      field('priority', alert.priority, true),
      field('source', alert.source, true),
    ];
    if (alert.hostname) fields.push(field('hostname', alert.hostname, true));
    if (alert.tags.length > 0) fields.push(field('tags', [...alert.tags].sort().join(', '), true));
    for (const key of Object.keys(alert.output_fields).sort()) {
      const value = fieldText(alert.output_fields[key]);
      fields.push(field(key, value, [...value].length < SHORT_FIELD_CHARS));
    }
    fields.push(field('time', time ? formatReadableTime(time) : alert.time, false));
    attachment.fields = fields;
    attachment.footer = settings.footer;
  }
  if (time) attachment.ts = String(Math.floor(time.epochMs / 1000));

  const message: SlackMessage = { username: settings.username, attachments: [attachment] };
  const text = messageFormat?.(alert);
  if (text) message.text = text;
  if (settings.icon) {
    if (/^:[^:\s]+:$/.test(settings.icon)) message.icon_emoji = settings.icon;
    else message.icon_url = settings.icon;
  }
  if (settings.channel) message.channel = settings.channel;
  return message;
}
