// Stand-alone entry: `node --import tsx apps/hub/src/main.ts [options]`, the
// same as `peregrine hub [options]` (drill tests spawn it to SIGKILL a real process).
import { runHubCommand } from './command.ts';
import { exitAfterShutdown } from './exit-after-shutdown.ts';

exitAfterShutdown(await runHubCommand(process.argv.slice(2)));
