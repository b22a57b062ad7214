import { runSensorCommand } from '@peregrine/sensor';
import type { Command } from '../command.ts';

export const sensorCommand: Command = {
  name: 'sensor',
  summary: 'Watch this machine with the eBPF probe and raise Falco alerts (stdout, JSONL file, hub)',
  run: (args) => runSensorCommand(args),
};
