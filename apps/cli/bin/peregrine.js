#!/usr/bin/env node
// The sources are TypeScript run through tsx's loader, so the CLI works
// straight after `npm ci` with no separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
