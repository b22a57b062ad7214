import type { Command } from '../command.ts';
import { hubCommand } from './hub.ts';
import { rulesCommand } from './rules.ts';
import { captureCommand } from './capture.ts';
import { replayCommand } from './replay.ts';
import { sensorCommand } from './sensor.ts';
import { runCommand } from './run.ts';

/**
 * Every `peregrine` command. Each lives in its own module next to this one
 * and calls into the app or package that does the work.
 */
export const commands: Command[] = [
  rulesCommand,
  hubCommand,
  captureCommand,
  replayCommand,
  sensorCommand,
  runCommand,
];
