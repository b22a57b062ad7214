// `npm run -w apps/responder bundle`: the Lambda deployment package. esbuild bundles the handler
// and its dependencies into one ESM file (index.mjs, handler `index.handler`, Node 20 runtime),
// zipped into .cache/responder/peregrine-responder-lambda.zip (git-ignored). Prints the paths.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { zipEntries } from './zip.ts';

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(appDir, '..', '..');
const outDir = join(repoRoot, '.cache', 'responder');
const bundleDir = join(outDir, 'lambda');
const bundleFile = join(bundleDir, 'index.mjs');
const zipFile = join(outDir, 'peregrine-responder-lambda.zip');

rmSync(bundleDir, { recursive: true, force: true });
mkdirSync(bundleDir, { recursive: true });
const result = await build({
  entryPoints: [join(appDir, 'src', 'handler.ts')],
  outfile: bundleFile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // CommonJS dependencies call require() for Node built-ins; ESM output needs one.
  banner: { js: "import { createRequire as __peregrineCreateRequire } from 'node:module'; const require = __peregrineCreateRequire(import.meta.url);" },
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});
const legal = `${bundleFile}.LEGAL.txt`;
const entries = [{ name: 'index.mjs', data: readFileSync(bundleFile) }];
try {
  entries.push({ name: 'THIRD-PARTY-NOTICES.txt', data: readFileSync(legal) });
} catch {
  /* no legal comments in this build */
}
writeFileSync(zipFile, zipEntries(entries));
const inputs = Object.keys(result.metafile?.inputs ?? {}).length;
console.log(
  JSON.stringify({
    zip: relative(repoRoot, zipFile),
    bundle: relative(repoRoot, bundleFile),
    handler: 'index.handler',
    runtime: 'nodejs20.x',
    bytes: { bundle: entries[0].data.length, zip: readFileSync(zipFile).length },
    inputs,
    files: entries.map((e) => e.name),
  }),
);
