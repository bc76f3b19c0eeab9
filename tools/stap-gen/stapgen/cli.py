# SPDX-License-Identifier: GPL-2.0
"""stap-gen's command line, following stap's where the two overlap.

Passes: 1 parse, 2 resolve probes, 3 generate C, 4 build the .ko, 5 run.
Data flows one way: script -> AST -> resolved probes -> C -> .ko -> output.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional

from . import ktap, pipeline
from .codegen.limits import DEFAULT_LIMITS
from .diag import Source, StapError, error
from .frontend import semantic

MODULE_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]{0,54}$')


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    """The command line as stap-gen reads it (options may follow the script)."""
    ap = argparse.ArgumentParser(
        prog='stap-gen',
        description='Turn a SystemTap-style script into a kernel module for a tree, '
                    'build it with kbuild, and run it (live or in QEMU).')
    ap.add_argument('script', nargs='?', type=Path,
                    help='the .stp script (or a module built with -p4, to run it)')
    ap.add_argument('args', nargs='*', metavar='ARG',
                    help="the script's arguments: $1 (as tokens), @1 (as a string), ...")
    ap.add_argument('-e', dest='script_text', metavar='SCRIPT',
                    help='the script given on the command line')
    ap.add_argument('-p', dest='pass_', type=int, choices=range(1, 6), default=5,
                    metavar='N', help='stop after pass N (1 parse, 2 resolve, 3 C, '
                    '4 build, 5 run; default 5)')
    ap.add_argument('-r', dest='kdir', type=Path, metavar='KDIR',
                    help='kernel build tree (default /lib/modules/$(uname -r)/build)')
    ap.add_argument('--vmlinux', type=Path, metavar='FILE',
                    help='resolve against a bare vmlinux instead of a tree (-l, -p1, -p2)')
    ap.add_argument('-l', dest='listing', metavar='PROBEPOINT',
                    help='list the probe points PROBEPOINT matches, then exit')
    ap.add_argument('-L', dest='listing_vars', metavar='PROBEPOINT',
                    help='like -l, with the target variables at each point and their types')
    ap.add_argument('-m', dest='module', metavar='NAME', help='module name')
    ap.add_argument('-c', dest='command', metavar='CMD',
                    help='run CMD and stop the script when it exits')
    ap.add_argument('-x', dest='target', type=int, metavar='PID',
                    help="target() is PID (on the live kernel)")
    ap.add_argument('--cleanup', action='store_true',
                    help='stop and unload stap-gen modules a killed run left loaded')
    ap.add_argument('-o', dest='output', type=Path, metavar='FILE',
                    help='write the output (or the C with -p3) to FILE')
    ap.add_argument('-v', dest='verbose', action='count', default=0)
    ap.add_argument('-D', dest='defines', action='append', default=[],
                    metavar='NAME=VALUE', help='set a run-time limit (MAXACTION, ...)')
    ap.add_argument('--suppress-handler-errors', action='store_true',
                    help='keep going after script errors (and past MAXSKIPPED); '
                         'they are counted and reported at the end')
    ap.add_argument('-G', dest='globals', action='append', default=[],
                    metavar='NAME=VALUE', help='set a global at load time')
    ap.add_argument('-s', dest='bufsize', type=int, metavar='MB',
                    help='output buffer size in MB')
    ap.add_argument('-g', dest='guru', action='store_true',
                    help='guru mode: embedded C, writes to target variables, '
                         'kernel.statement(ADDR).absolute')
    ap.add_argument('-T', dest='timeout_t', type=float, metavar='SECONDS',
                    help='stop the script after SECONDS (as --timeout)')
    ap.add_argument('-I', dest='tapset_dirs', type=Path, action='append', default=[],
                    metavar='DIR', help='also look for tapsets (.stp, .stpm) in DIR')
    ap.add_argument('-w', dest='no_warnings', action='store_true',
                    help='suppress warnings')
    ap.add_argument('--all-modules', action='store_true',
                    help="accepted as stap does; backtraces already name every module's "
                         'functions from the tree')
    ap.add_argument('-d', dest='symbol_files', action='append', default=[], metavar='FILE',
                    help='accepted as stap does (symbol data of FILE); the kernel\'s '
                         'come from the tree')
    ap.add_argument('--ldd', action='store_true', help='accepted as stap does')
    ap.add_argument('--dump-functions', action='store_true',
                    help='list the functions a script can call, then exit')
    ap.add_argument('--dump-probe-types', action='store_true',
                    help='list the probe point families, then exit')
    ap.add_argument('--dump-probe-aliases', action='store_true',
                    help='list the probe aliases of the tapsets, then exit')
    ap.add_argument('-k', dest='keep', action='store_true',
                    help='keep the build directory')
    ap.add_argument('--vm', action='store_true',
                    help="run in QEMU, booting the tree's own bzImage")
    ap.add_argument('--vm-preload', type=Path, action='append', default=[], metavar='KO',
                    help='load this module in the guest before the script starts')
    ap.add_argument('--vm-console', type=Path, metavar='FILE',
                    help="keep the guest's console log in FILE")
    ap.add_argument('--timeout', type=float, default=None, metavar='SECONDS',
                    help='stop the script after this long (default: none live, '
                    '60 in a VM)')
    ap.add_argument('--templates', type=Path, metavar='DIR',
                    help='kernel-templates directory to use (default: the kit\'s own)')
    ap.add_argument('--check', type=Path, metavar='DIR',
                    help='build every script in DIR against the tree, report KTAP')
    ap.add_argument('--test', type=Path, metavar='DIR',
                    help='run every NAME.stp of DIR that has a NAME.out in QEMU, '
                         'compare, report KTAP')
    ap.add_argument('--kbuild-style', action='store_true',
                    help='print kbuild-style progress lines (make stap uses it)')
    ap.add_argument('--no-line-directives', action='store_true', help=argparse.SUPPRESS)
    args = ap.parse_intermixed_args(argv)
    if args.script_text is not None and args.script is not None:
        args.args.insert(0, str(args.script))   # with -e, every word is an argument
        args.script = None
    if args.timeout_t is not None:
        args.timeout = args.timeout_t
    return args


_args = parse_args


def _source(args: argparse.Namespace) -> Source:
    if args.script_text is not None:
        return Source('<command line>', args.script_text)
    if args.script is None:
        raise error('no script given', hint='stap-gen [options] foo.stp, or -e SCRIPT')
    try:
        return Source(str(args.script), args.script.read_text())
    except OSError as e:
        raise error(f'cannot read {args.script}: {e.strerror}') from None
    except UnicodeDecodeError:
        raise error(f'{args.script} is not UTF-8 text') from None


def _module_name(args: argparse.Namespace, src: Source) -> str:
    if args.module:
        if not MODULE_NAME.match(args.module):
            raise error(f'invalid module name {args.module!r}',
                        hint='a C identifier of at most 55 characters')
        return str(args.module)
    return 'stap_' + hashlib.sha1(src.text.encode()).hexdigest()[:12]


def _defines(args: argparse.Namespace) -> Dict[str, str]:
    out = {}
    for d in args.defines:
        name, sep, value = d.partition('=')
        if not sep or name not in DEFAULT_LIMITS or not re.fullmatch(r'\d+', value):
            raise error(f'bad -D {d!r}', hint='use -D NAME=NUMBER with one of ' +
                        ', '.join(n for n in DEFAULT_LIMITS if n.startswith('MAX')))
        out[name] = value
    if args.suppress_handler_errors:
        out['STP_SUPPRESS_ERRORS'] = '1'
    return out


def _load_params(args: argparse.Namespace, program: Optional[semantic.Program]) -> str:
    """-G NAME=VALUE as module parameters, checked against the script."""
    out = []
    for item in args.globals:
        name, sep, value = item.partition('=')
        g = program.globals.get(name) if program else None
        if not sep or (program is not None and (g is None or g.is_array or
                                                 g.value.type not in ('long', 'string'))):
            raise error(f'bad -G {item!r}',
                        hint='-G NAME=VALUE sets a scalar global of the script')
        if g is not None and g.value.type == 'long':
            try:
                int(value, 0)
            except ValueError:
                raise error(f"-G {item}: '{name}' is a number") from None
        if '"' in value:
            raise error(f'-G {item}: a value cannot contain a double quote')
        out.append(pipeline.param(name, value))
    return ' '.join(out)


def main(argv: Optional[List[str]] = None) -> int:
    return run_args(parse_args(argv))


def run_args(args: argparse.Namespace) -> int:
    """Do what a parsed command line asks; the exit status, errors printed."""
    try:
        return _main(args)
    except StapError as e:
        sys.stderr.write(e.prelude)
        print(str(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('stap-gen: interrupted', file=sys.stderr)
        return 130
    except RecursionError:
        print('stap-gen: error: the script nests too deeply', file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader (head, less) went away: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _options(args: argparse.Namespace) -> pipeline.Options:
    return pipeline.Options(kdir=args.kdir, vmlinux=args.vmlinux, templates=args.templates,
                            guru=args.guru, verbose=args.verbose,
                            listing=bool(args.listing or args.listing_vars),
                            bufsize_mb=args.bufsize,
                            line_directives=not args.no_line_directives,
                            defines=_defines(args), keep=args.keep,
                            kbuild_style=args.kbuild_style, args=list(args.args),
                            tapset_dirs=list(args.tapset_dirs))


def _main(args: argparse.Namespace) -> int:
    if args.cleanup:
        from .run import runner
        try:
            runner.cleanup(err=sys.stderr.buffer)
        except (runner.RunError, OSError) as e:
            raise error(f'--cleanup: {e}', hint='it needs root') from None
        return 0
    if args.target is not None and args.vm:
        raise error('-x PID names a process of the live kernel; with --vm use -c CMD')
    pipe = pipeline.Pipeline(_options(args))
    if args.dump_functions or args.dump_probe_types or args.dump_probe_aliases:
        for line in pipe.dump(functions=args.dump_functions,
                              probe_types=args.dump_probe_types,
                              aliases=args.dump_probe_aliases):
            print(line)
        return 0
    if args.listing or args.listing_vars:
        for line in pipe.listing(args.listing or args.listing_vars, not args.listing):
            print(line)
        return 0
    if args.check:
        return ktap.check(pipe, args.check)
    if args.test:
        console = args.vm_console or Path(os.environ.get('TMPDIR', '/tmp')) / \
            f'stap-test-{os.getpid()}.log'
        return ktap.selftest(pipe, args.test, console)
    if args.script is not None and args.script.suffix == '.ko':
        # a module built earlier (-p4): only pass 5 is left, as with staprun
        if not args.script.exists():
            raise error(f'{args.script}: no such module')
        return pipe.run(args.script, _run_request(args, _load_params(args, None)))
    src = _source(args)
    parsed = pipe.parse(src)
    params = _load_params(args, parsed.program)
    if args.pass_ == 1:
        from .frontend import unparse
        _write_text(args.output, unparse.script(parsed.script))
        return 0
    if args.vmlinux and args.pass_ > 2:
        raise error('--vmlinux stops at -p2: building a module needs a kernel tree (-r)')
    placed = pipe.resolve(parsed)
    if args.pass_ == 2:
        for p in placed.probes:
            print(p.describe(verbose=args.verbose > 0))
        return 0
    gen = pipe.generate(placed, _module_name(args, src))
    if args.pass_ == 3:
        _write_text(args.output, gen.c_text)
        return 0
    if args.pass_ == 4:
        print(pipe.build(gen, Path.cwd()).name)
        return 0
    import tempfile
    ko = pipe.build(gen, Path(tempfile.mkdtemp(prefix='stap-gen-ko-')))
    try:
        return pipe.run(ko, _run_request(args, params))
    finally:
        ko.unlink(missing_ok=True)
        ko.parent.rmdir()


def _write_text(path: Optional[Path], text: str) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    tmp = path.with_name(f'.{path.name}.tmp{os.getpid()}')
    tmp.write_text(text)
    os.replace(tmp, path)


def _run_request(args: argparse.Namespace, params: str) -> pipeline.RunRequest:
    return pipeline.RunRequest(command=args.command, output=args.output, vm=args.vm,
                               timeout=args.timeout, vm_console=args.vm_console,
                               preload=args.vm_preload, params=params, target=args.target)
