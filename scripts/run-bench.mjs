// `npm run bench [area…]`: runs every bench/<area>/run.ts (or only the named areas) in turn.
// Each benchmark measures its own baseline in the same run and prints its figures.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// Arguments starting with -- (e.g. --quick) are passed on to every area's run.ts.
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const areas = readdirSync('bench', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join('bench', d.name, 'run.ts')))
  .map((d) => d.name)
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();
let failed = 0;
for (const area of areas) {
  console.log(`\n=== bench/${area} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('bench', area, 'run.ts'), ...flags], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
