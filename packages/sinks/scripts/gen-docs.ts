// Regenerates the settings tables in docs/sinks.md from the sink schemas.
// Run: npm run -w @peregrine/sinks docs   (test/docs.test.ts fails when stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderSettingsReference, replaceGeneratedBlock } from '../src/docs/settings-reference.ts';
import { sinkModules } from '../src/index.ts';

const docPath = fileURLToPath(new URL('../../../docs/sinks.md', import.meta.url));
const updated = replaceGeneratedBlock(readFileSync(docPath, 'utf8'), renderSettingsReference(Object.values(sinkModules)));
writeFileSync(docPath, updated);
console.log(`updated ${docPath}`);
