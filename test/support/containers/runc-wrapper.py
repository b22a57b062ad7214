#!/usr/bin/python3
# runc behind a filter, for dockerd on machines whose bounding set lacks some
# capabilities (here CAP_SYS_RESOURCE): Docker 20.10 asks for every capability
# for --privileged containers (and for `docker exec` into them), and runc then
# fails with "unable to apply caps: operation not permitted". This drops from
# the bundle's config.json (create/run) or from the --process file (exec) the
# capabilities absent from this process's CapBnd, then execs /usr/bin/runc.
import json
import os
import sys

NAMES = ['CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
         'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
         'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
         'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
         'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
         'CHECKPOINT_RESTORE']


def missing_caps():
    with open('/proc/self/status') as status:
        bounding = next(int(line.split()[1], 16) for line in status if line.startswith('CapBnd:'))
    return {'CAP_' + name for bit, name in enumerate(NAMES) if not (bounding >> bit) & 1}


def filter_process(process, missing):
    caps = process.get('capabilities') or {}
    for kind, names in list(caps.items()):
        if isinstance(names, list):
            caps[kind] = [name for name in names if name not in missing]


def rewrite(path, edit):
    with open(path) as f:
        doc = json.load(f)
    edit(doc)
    with open(path, 'w') as f:
        json.dump(doc, f)


def option(args, long_name, short_name):
    for i, arg in enumerate(args):
        if arg in (long_name, short_name) and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(long_name + '='):
            return arg.split('=', 1)[1]
    return None


args = sys.argv[1:]
missing = missing_caps()
commands = [a for a in args if not a.startswith('-')]
if missing and ('create' in commands or 'run' in commands):
    bundle = option(args, '--bundle', '-b') or os.getcwd()
    config = os.path.join(bundle, 'config.json')
    if os.path.exists(config):
        rewrite(config, lambda doc: filter_process(doc.get('process') or {}, missing))
elif missing and 'exec' in commands:
    process_file = option(args, '--process', '-p')
    if process_file and os.path.exists(process_file):
        rewrite(process_file, lambda doc: filter_process(doc, missing))
os.execv('/usr/bin/runc', ['runc'] + args)
