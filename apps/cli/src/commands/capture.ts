import { parseArgs } from 'node:util';
import { recordCapture, UnknownSyscallError } from '@peregrine/sensor';
import type { Command } from '../command.ts';
import { wantsHelp } from '../command.ts';

const HELP = `Usage: peregrine capture --out FILE [options]

Capture syscalls with the eBPF probe into a capture file (format: docs/native.md)
that \`peregrine replay\` can analyse here or on another machine. Needs root (or
CAP_BPF + CAP_PERFMON) and a kernel with BTF. Stops after --seconds, or on
Ctrl-C / SIGTERM, and prints a summary with drop counts on stderr.

Options:
  --out FILE              capture file to write (required)
  --seconds N             stop after N seconds (default: until interrupted)
  --syscalls a,b,c        syscalls to capture (default: every supported one:
                          the Falco rules' set plus close)
  --rules FILE...         capture only what these rules can match (Falco's adaptive
                          syscall set: the rules' event types plus close)
  --ring-mb N             kernel ring size in MiB, a power of two (default 8)
  --exclude-comm NAME     drop events of tasks with this comm in the kernel (repeatable)
  --exclude-prefix PATH   drop path events whose first path starts with PATH (repeatable)
`;

export const captureCommand: Command = {
  name: 'capture',
  summary: 'Capture syscalls with the eBPF probe into a replayable file',
  async run(args: string[]): Promise<number> {
    if (wantsHelp(args)) {
      console.log(HELP);
      return 0;
    }
    let values;
    let tokens;
    try {
      ({ values, tokens } = parseArgs({
        args,
        options: {
          out: { type: 'string' },
          seconds: { type: 'string' },
          syscalls: { type: 'string' },
          rules: { type: 'string', multiple: true },
          'ring-mb': { type: 'string' },
          'exclude-comm': { type: 'string', multiple: true },
          'exclude-prefix': { type: 'string', multiple: true },
        },
        strict: true,
        allowPositionals: true,
        tokens: true,
      }));
    } catch (err) {
      console.error(`peregrine capture: ${(err as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (!values.out) {
      console.error(`peregrine capture: --out FILE is required\n\n${HELP}`);
      return 2;
    }
    const seconds = values.seconds !== undefined ? Number(values.seconds) : undefined;
    if (seconds !== undefined && !(seconds > 0)) {
      console.error(`peregrine capture: --seconds must be a positive number (got "${values.seconds}")`);
      return 2;
    }
    const ringMb = values['ring-mb'] !== undefined ? Number(values['ring-mb']) : 8;
    if (!Number.isInteger(ringMb) || ringMb <= 0 || (ringMb & (ringMb - 1)) !== 0) {
      console.error(`peregrine capture: --ring-mb must be a power of two (got "${values['ring-mb']}")`);
      return 2;
    }
    // Every bare word after --rules is a rules file (as in the usage line).
    const rulesFiles = [...(values.rules ?? [])];
    let afterRules = false;
    for (const t of tokens ?? []) {
      if (t.kind === 'option') afterRules = t.name === 'rules';
      else if (t.kind === 'positional') {
        if (!afterRules) {
          console.error(`peregrine capture: unexpected argument "${t.value}"\n\n${HELP}`);
          return 2;
        }
        rulesFiles.push(t.value);
      }
    }
    if (values.syscalls && rulesFiles.length > 0) {
      console.error('peregrine capture: give --syscalls or --rules, not both');
      return 2;
    }
    const syscalls = values.syscalls ? values.syscalls.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const summary = await recordCapture({
        out: values.out,
        seconds,
        signal: abort.signal,
        syscalls,
        rules: rulesFiles,
        onSyscalls: (set) => {
          if (set.unsupported.length > 0) {
            console.error(`peregrine capture: the rules also use event types the probe does not capture: ${set.unsupported.join(', ')}`);
          }
          console.error(`peregrine capture: syscalls from the rules: ${set.syscalls.join(', ')}`);
        },
        ringBytes: ringMb * 1024 * 1024,
        exclude: {
          comms: values['exclude-comm'] ?? [],
          pathPrefixes: (values['exclude-prefix'] ?? []).map((prefix) => ({ prefix })),
        },
      });
      const k = summary.stats.kernel;
      console.error(
        `peregrine capture: wrote ${summary.records} events (${summary.bytes} bytes, ${summary.batches} batches) ` +
          `to ${values.out} in ${summary.seconds.toFixed(1)} s; kernel drops ${k.dropsBuffer}, user drops ${summary.stats.user.drops}, ` +
          `filtered in kernel: pid ${k.filteredPid}, comm ${k.filteredComm}, path ${k.filteredPath}`,
      );
      return 0;
    } catch (err) {
      console.error(`peregrine capture: ${(err as Error).message}`);
      return err instanceof UnknownSyscallError ? 2 : 1;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
