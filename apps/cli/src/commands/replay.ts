import { parseArgs } from 'node:util';
import { compileRules, loadRuleFiles } from '@peregrine/rules';
import { CaptureReader, contextFor, replayEvents, replayExtractor } from '@peregrine/native';
import type { Command } from '../command.ts';
import { wantsHelp } from '../command.ts';
import { alertToJson } from '@peregrine/alert';

const HELP = `Usage: peregrine replay FILE --rules RULES.yaml... [options]

Run a capture written by \`peregrine capture\` through Falco rules and print one
Falco JSON alert per line on stdout. Works on any machine: the capture carries
the raw events, the captured host's name and its uid/gid names. A summary
(events, alerts, drops recorded at capture time) goes to stderr.

Options:
  --rules FILE...      rules files, loaded in order as Falco does (required)
  --hostname NAME      hostname in alerts (default: the captured machine's)
  --all-matches        report every matching rule (Falco rule_matching: all)
`;

/** FILE and --rules values; every bare word after --rules is a rules file (as in the usage line). */
function splitArgs(args: string[]): { file?: string; rules: string[]; hostname?: string; allMatches: boolean } {
  const { values, tokens } = parseArgs({
    args,
    options: {
      rules: { type: 'string', multiple: true },
      hostname: { type: 'string' },
      'all-matches': { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
    tokens: true,
  });
  const rules = [...(values.rules ?? [])];
  let file: string | undefined;
  let afterRules = false;
  for (const t of tokens ?? []) {
    if (t.kind === 'option') afterRules = t.name === 'rules';
    else if (t.kind === 'positional') {
      if (afterRules) rules.push(t.value);
      else if (file === undefined) file = t.value;
      else throw new Error(`unexpected argument "${t.value}"`);
    }
  }
  return { file, rules, hostname: values.hostname, allMatches: values['all-matches'] === true };
}

export const replayCommand: Command = {
  name: 'replay',
  summary: 'Run a capture file through Falco rules and print Falco JSON alerts',
  async run(args: string[]): Promise<number> {
    if (wantsHelp(args)) {
      console.log(HELP);
      return 0;
    }
    let opts;
    try {
      opts = splitArgs(args);
    } catch (err) {
      console.error(`peregrine replay: ${(err as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (!opts.file || opts.rules.length === 0) {
      console.error(`peregrine replay: a capture FILE and --rules FILE... are required\n\n${HELP}`);
      return 2;
    }
    let reader: CaptureReader;
    try {
      reader = await CaptureReader.open(opts.file);
    } catch (err) {
      console.error(`peregrine replay: ${(err as Error).message}`);
      return 1;
    }
    try {
      let loaded;
      try {
        loaded = loadRuleFiles(opts.rules);
      } catch (err) {
        console.error(`peregrine replay: ${(err as Error).message}`);
        return 1;
      }
      const ctx = contextFor(reader);
      const compiled = compileRules(loaded, replayExtractor(), {
        hostname: opts.hostname ?? ctx.hostname,
        ruleMatching: opts.allMatches ? 'all' : 'first',
      });
      let events = 0;
      let alerts = 0;
      for await (const ev of replayEvents(reader, ctx)) {
        events++;
        for (const alert of compiled.evaluate(ev)) {
          alerts++;
          process.stdout.write(`${alertToJson(alert)}\n`);
        }
      }
      const stats = reader.stats as { kernel?: { dropsBuffer?: number }; user?: { drops?: number } } | undefined;
      console.error(
        `peregrine replay: ${events} syscall events, ${alerts} alerts` +
          (stats?.kernel ? `; drops at capture time: kernel ${stats.kernel.dropsBuffer ?? 0}, user ${stats.user?.drops ?? 0}` : '') +
          (reader.complete ? '' : '; WARNING: the capture is incomplete (no end marker): replayed every whole chunk'),
      );
      return 0;
    } catch (err) {
      console.error(`peregrine replay: ${(err as Error).message}`);
      return 1;
    } finally {
      await reader.close();
    }
  },
};
