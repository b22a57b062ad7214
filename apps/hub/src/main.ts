// Stand-alone entry: `node --import tsx apps/hub/src/main.ts [options]`, the
// same as `peregrine hub [options]` (drill tests spawn it to SIGKILL a real process).
import { runHubCommand } from './command.ts';

process.exitCode = await runHubCommand(process.argv.slice(2));
