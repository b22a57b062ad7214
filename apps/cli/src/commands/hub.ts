import { runHubCommand } from '@peregrine/hub';
import type { Command } from '../command.ts';

export const hubCommand: Command = {
  name: 'hub',
  summary: 'Run the alert hub (Falco/Falcosidekick-compatible ingest, durable routing to sinks)',
  run: (args) => runHubCommand(args),
};
