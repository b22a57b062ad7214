#!/usr/bin/env node
// The sources are TypeScript run through tsx's loader, so the CLI works
// straight after `npm ci` with no separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
const { exitAfterShutdown } = await import('@peregrine/hub');
// Once the command is done, nothing left open by a library keeps the process alive.
exitAfterShutdown(await main(process.argv.slice(2)));
