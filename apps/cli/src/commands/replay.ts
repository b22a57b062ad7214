import { parseArgs } from 'node:util';
import { alertToJson } from '@peregrine/alert';
import { replayCapture } from '@peregrine/sensor';
import type { Command } from '../command.ts';
import { wantsHelp } from '../command.ts';

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
    try {
      const summary = await replayCapture({
        file: opts.file,
        rules: opts.rules,
        hostname: opts.hostname,
        allMatches: opts.allMatches,
        outputs: [{ emit: (alert) => process.stdout.write(`${alertToJson(alert)}\n`) }],
      });
      const k = summary.captureStats?.kernel;
      const w = summary.walk;
      console.error(
        `peregrine replay: ${summary.events} syscall events, ${summary.alerts} alerts` +
          (k ? `; drops at capture time: kernel ${k.dropsBuffer ?? 0}, user ${summary.captureStats?.user?.drops ?? 0}` : '') +
          (w.malformed > 0 ? `; WARNING: skipped ${w.malformed} malformed record(s) (first: ${w.firstProblem})` : '') +
          (summary.complete ? '' : '; WARNING: the capture is incomplete (no end marker): replayed every whole chunk'),
      );
      return 0;
    } catch (err) {
      console.error(`peregrine replay: ${(err as Error).message}`);
      return 1;
    }
  },
};
