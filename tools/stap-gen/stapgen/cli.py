"""stap-gen's command line, following stap's where the two overlap.

Passes: 1 parse, 2 resolve probes, 3 generate C, 4 build the .ko, 5 run.
Data flows one way: script -> AST -> resolved probes -> C -> .ko -> output.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any, List, Optional

from elftools.common.exceptions import ELFError

from .elf import dwarfindex
from .frontend import nodes as n
from .frontend import parser
from . import paths
from .frontend import semantic
from .elf import symbols
from .tree import kerneltree as treemod
from .diag import Source, StapError, error
from .probes.resolve import Resolved, Resolver, plain_function_names

MODULE_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]{0,54}$')


def _args(argv: Optional[List[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog='stap-gen',
        description='Turn a SystemTap-style script into a kernel module for a tree, '
                    'build it with kbuild, and run it (live or in QEMU).')
    ap.add_argument('script', nargs='?', type=Path,
                    help='the .stp script (or a module built with -p4, to run it)')
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
                    help='guru mode: allow kernel.statement(ADDR).absolute')
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
    return ap.parse_args(argv)


def _source(args: argparse.Namespace) -> Source:
    if args.script_text is not None:
        if args.script is not None:
            raise error('give either a script file or -e SCRIPT, not both')
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


def _defines(args: argparse.Namespace) -> dict:
    from .codegen import generate as codegen
    out = {}
    for d in args.defines:
        name, sep, value = d.partition('=')
        if not sep or name not in codegen.DEFAULT_LIMITS or not re.fullmatch(r'\d+', value):
            raise error(f'bad -D {d!r}', hint='use -D NAME=NUMBER with one of ' +
                        ', '.join(n for n in codegen.DEFAULT_LIMITS if n.startswith('MAX')))
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
        out.append(f'{name}="{value}"' if ' ' in value else f'{name}={value}')
    return ' '.join(out)


def _needs_config(probes: List[Resolved]) -> List[tuple]:
    need = [('CONFIG_MODULES', 'stap-gen builds a loadable module'),
            ('CONFIG_MODULE_UNLOAD', 'the module is unloaded when the script stops')]
    kinds = {p.kind for p in probes}
    if kinds & {'kprobe', 'kretprobe'}:
        need.append(('CONFIG_KPROBES', 'kernel.function probes are kprobes'))
    if 'kretprobe' in kinds:
        need.append(('CONFIG_KRETPROBES', '.return probes are kretprobes'))
    if 'tracepoint' in kinds:
        need.append(('CONFIG_TRACEPOINTS', 'kernel.trace probes join the kernel\'s '
                     'tracepoints'))
    return need


def main(argv: Optional[List[str]] = None) -> int:
    try:
        return _main(_args(argv))
    except StapError as e:
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


def _vmlinux_symbols(vmlinux: Path, script: Optional[n.Script] = None) -> tuple:
    """The symbol table and DWARF of vmlinux.  With a script, the DWARF of the
    functions it names is looked for meanwhile, in a second process."""
    try:
        if script is not None:
            names = plain_function_names(script)
            if names:
                dwarfindex.prefetch(vmlinux, symbols.build_id(vmlinux), names)
        return symbols.load(vmlinux), symbols.Dwarf(vmlinux)
    except (OSError, ValueError, ELFError) as e:
        raise error(f'cannot read {vmlinux}: {e}',
                    hint='it must be an ELF vmlinux with a symbol table') from None


def _list(args: argparse.Namespace) -> int:
    src = Source('<-l>', f'probe {args.listing or args.listing_vars} {{}}')
    script = parser.parse(src)
    vmlinux = args.vmlinux or treemod.open_tree(_kdir(args)).vmlinux
    syms, dwarf = _vmlinux_symbols(vmlinux, script)
    syms.funcs      # a listing touches most of the table: load it once
    resolver = Resolver(syms, dwarf, args.verbose, _index_opener(vmlinux, syms),
                        None if args.vmlinux else _kdir(args), args.guru, listing=True)
    found = resolver.resolve(script)
    if args.listing:
        for pp in sorted({p.pp for p in found}):
            print(pp)
        return 0
    from .codegen.generate import Sites
    from .elf.scopes import Unavailable
    from .codegen.targets import type_list
    sites = Sites(found, dwarf)
    lines = set()
    for p in found:
        text = p.pp
        try:
            text += ' ' + type_list(sites.site(p))
        except Unavailable:
            pass
        lines.add(text.rstrip())
    for line in sorted(lines):
        print(line)
    return 0


def _index_opener(vmlinux: Path, syms: symbols.SymbolTable):  # type: ignore[no-untyped-def]
    def open_() -> dwarfindex.Index:
        try:
            return dwarfindex.open_index(vmlinux, syms.build_id)
        except (OSError, ValueError) as e:
            raise error(f'cannot index the DWARF of {vmlinux}: {e}') from None
    return open_


def _kdir(args: argparse.Namespace) -> Path:
    return args.kdir or Path('/lib/modules') / platform.release() / 'build'


def _check(args: argparse.Namespace) -> int:
    """Build each script of a directory; KTAP says which built and why not."""
    import subprocess
    import tempfile
    scripts = sorted(args.check.resolve().glob('*.stp'))
    if not scripts:
        raise error(f'no .stp scripts in {args.check}')
    kdir = _kdir(args)
    treemod.open_tree(kdir)         # a clear error before N identical ones
    print('KTAP version 1')
    print(f'1..{len(scripts)}')
    failed = 0
    for i, script in enumerate(scripts, 1):
        name = 'stapcheck_' + re.sub(r'\W', '_', script.stem)
        with tempfile.TemporaryDirectory(prefix='stap-check-') as tmp:
            r = subprocess.run([str(paths.LAUNCHER), '-r', str(kdir), '-p4', '-m', name,
                                str(script)], cwd=tmp, capture_output=True, text=True)
        if r.returncode == 0:
            print(f'ok {i} {script.name}', flush=True)
            continue
        failed += 1
        errors = [ln for ln in r.stderr.splitlines() if 'error' in ln] or \
            r.stderr.splitlines()[-1:]
        print(f'not ok {i} {script.name} # {errors[0] if errors else "failed"}')
        for ln in r.stderr.splitlines()[:20]:
            print(f'# {ln}')
        sys.stdout.flush()
    print(f'# {len(scripts) - failed} passed, {failed} failed')
    return 1 if failed else 0


def _selftest(args: argparse.Namespace) -> int:
    from .codegen import generate as codegen
    from . import selftest
    kdir = _kdir(args)
    tree = treemod.open_tree(kdir)

    def generate(script: Path, module: str) -> str:
        src = Source(str(script), script.read_text())
        ast = parser.parse(src, tree.fact)
        program = semantic.check(ast)
        syms, dwarf = _vmlinux_symbols(tree.vmlinux)
        probes = Resolver(syms, dwarf, 0, _index_opener(tree.vmlinux, syms),
                          tree.objtree).resolve(ast)
        tset = treemod.find_template_set(tree, paths.templates_dir())
        return codegen.generate(program, probes, script, module,
                                [tset, paths.templates_dir() / 'common'], tset.name,
                                tree.release, syms.build_id, str(tree.objtree),
                                dwarf=dwarf, symbols=syms,
                                dwarf_index=_index_opener(tree.vmlinux, syms)).text

    console = args.vm_console or Path(os.environ.get('TMPDIR', '/tmp')) / \
        f'stap-test-{os.getpid()}.log'
    return 1 if selftest.run(kdir, args.test, generate, console) else 0


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
    if args.listing or args.listing_vars:
        return _list(args)
    if args.check:
        return _check(args)
    if args.test:
        return _selftest(args)
    if args.script is not None and args.script.suffix == '.ko':
        # a module built earlier (-p4): only pass 5 is left, as with staprun
        if not args.script.exists():
            raise error(f'{args.script}: no such module')
        return _run(args, treemod.open_tree(_kdir(args)), args.script,
                    _load_params(args, None))
    src = _source(args)
    trees: dict = {}

    def get_tree() -> treemod.KernelTree:
        if 'tree' not in trees:
            trees['tree'] = treemod.open_tree(_kdir(args))
        return trees['tree']

    script = parser.parse(src, lambda name: get_tree().fact(name))
    program = semantic.check(script)
    params = _load_params(args, program)
    if args.pass_ == 1:
        from .frontend import unparse
        _write_text(args.output, unparse.script(script))
        return 0
    if args.vmlinux and args.pass_ > 2:
        raise error('--vmlinux stops at -p2: building a module needs a kernel tree (-r)')
    tree = None if args.vmlinux else get_tree()
    needs_vmlinux = any(c.name in ('kernel', 'kprobe', 'module') for p in script.probes
                        for pt in p.points for c in pt.components[:1])
    syms = dwarf = opener = None
    if needs_vmlinux:
        vmlinux = args.vmlinux or tree.vmlinux
        syms, dwarf = _vmlinux_symbols(vmlinux, script)
        opener = _index_opener(vmlinux, syms)
    probes = Resolver(syms, dwarf, args.verbose, opener,
                      tree.objtree if tree else None, args.guru).resolve(script)
    if tree is not None:
        tree.require(_needs_config(probes))
    if args.pass_ == 2:
        for p in probes:
            print(p.describe(verbose=args.verbose > 0))
        return 0
    assert tree is not None
    from .codegen import generate as codegen
    from .run import kbuild  # jinja2 and kbuild only from pass 3 on
    module = _module_name(args, src)
    templates = (args.templates or paths.templates_dir()).resolve()
    tset = treemod.find_template_set(tree, templates)
    script_path = args.script or Path('<command line>')
    syms = syms or symbols.load(tree.vmlinux)
    build_id = syms.build_id
    c = codegen.generate(program, probes, script_path, module,
                         [tset, templates / 'common'], tset.name,
                         tree.release, build_id, str(tree.objtree), args.bufsize,
                         line_directives=not args.no_line_directives,
                         dwarf=dwarf or symbols.Dwarf(tree.vmlinux), symbols=syms,
                         dwarf_index=opener or _index_opener(tree.vmlinux, syms))
    if args.pass_ == 3:
        _write_text(args.output, c.text)
        return 0
    dest = Path.cwd() if args.pass_ == 4 else Path(os.environ.get('TMPDIR', '/tmp'))
    if args.pass_ == 5:
        import tempfile
        dest = Path(tempfile.mkdtemp(prefix='stap-gen-ko-'))
    ko = kbuild.build(kbuild.BuildRequest(tree, module, c.text, _defines(args),
                                          args.verbose, args.keep, args.kbuild_style), dest)
    if args.pass_ == 4:
        print(ko.name)
        return 0
    try:
        return _run(args, tree, ko, params)
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


def _run(args: argparse.Namespace, tree: treemod.KernelTree, ko: Path,
         params: str = '') -> int:
    from .run.symbolize import ExpandingWriter
    raw = args.output.open('wb') if args.output else sys.stdout.buffer
    out: Any = ExpandingWriter(raw, tree.vmlinux)      # backtraces, symbolized
    try:
        if args.vm:
            from .run import vm
            try:
                res = vm.run(vm.VMRequest(tree.bzimage, ko, args.command,
                                          timeout=args.timeout or 60.0,
                                          console=args.vm_console,
                                          preload=args.vm_preload, params=params),
                             out, sys.stderr.buffer, verbose=args.verbose > 0)
            except vm.VMError as e:
                raise error(str(e)) from None
            if res.exit_code != 0:
                print(f'stap-gen: the script failed in the guest (exit {res.exit_code}); '
                      f'console log: {res.console}', file=sys.stderr)
            return res.exit_code
        from .run import runner
        _check_live_kernel(tree)
        try:
            return runner.run(ko, args.command, out, args.timeout, params=params,
                              target=args.target)
        except runner.RunError as e:
            raise error(str(e)) from None
    finally:
        out.finish()
        if args.output:
            raw.close()


def _check_live_kernel(tree: treemod.KernelTree) -> None:
    """The running kernel must be the tree's kernel (same build-id)."""
    want = symbols.load(tree.vmlinux).build_id
    try:
        notes = Path('/sys/kernel/notes').read_bytes()
    except OSError:
        notes = b''
    if want and bytes.fromhex(want) not in notes:
        raise error(f'the running kernel ({platform.release()}) is not the kernel '
                    f'built in {tree.objtree} (build-ids differ)',
                    hint='run it in QEMU with --vm, or boot that kernel')
