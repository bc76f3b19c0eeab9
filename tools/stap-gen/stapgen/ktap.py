# SPDX-License-Identifier: GPL-2.0
"""KTAP reports over a directory of scripts, for a kernel CI.

--check (make stap-check) builds every script against the tree; --test
(make stap-test) runs every NAME.stp that has a NAME.out in QEMU, all in
one kbuild run and one boot, and compares: NAME.cmd (if present) is its
workload, its output must equal NAME.out, and with NAME.err present the
run must end with exit status 1 and its messages must contain that text.
NAME.args (if present) holds what follows the script on a command line:
its arguments, shell-quoted, after -g for guru mode.
"""

from __future__ import annotations

import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

from .diag import Source, StapError, error
from .pipeline import Generated, Pipeline


class Report:
    """One KTAP test plan, printed as it goes."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.failed = 0
        self.n = 0
        print('KTAP version 1')
        print(f'1..{count}', flush=True)

    def result(self, name: str, problems: Sequence[str], reason: str = '') -> None:
        self.n += 1
        if problems or reason:
            self.failed += 1
            print(f'not ok {self.n} {name}' + (f' # {reason}' if reason else ''))
            for p in problems:
                print(f'# {p}')
        else:
            print(f'ok {self.n} {name}')
        sys.stdout.flush()

    def skip(self, name: str, reason: str) -> None:
        self.n += 1
        print(f'ok {self.n} {name} # SKIP {reason}')
        sys.stdout.flush()

    def summary(self, extra: str = '') -> int:
        print(f'# {self.count - self.failed} passed, {self.failed} failed{extra}')
        return 1 if self.failed else 0


def _generate(pipe: Pipeline, script: Path, module: str) -> Generated:
    try:
        text = script.read_text()
        words = shlex.split(script.with_suffix('.args').read_text()) \
            if script.with_suffix('.args').exists() else None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise error(f'cannot read {script} (or its .args): {e}') from None
    guru = None
    if words and words[0] == '-g':
        guru, words = True, words[1:]
    parsed = pipe.parse(Source(str(script), text), args=words, guru=guru)
    return pipe.generate(pipe.resolve(parsed), module)


def tapset_cases(pipe: Pipeline) -> List[Tuple[str, List[str]]]:
    """(test name, scripts) per tapset file of the tree's set: a script that
    takes every alias of the file (reading every variable it sets) and
    calls every function of it, from a begin probe behind a global that is
    never set (a `never` probe's code would be dropped by the compiler, and
    with it what modpost must see of the functions); and, for the
    syscall aliases made from the tree's syscall table, one script for the
    entries and one for the returns (the largest modules: two, so that two
    CPUs share them)."""
    from .frontend import nodes as n
    lib = pipe.library()
    cases: List[Tuple[str, List[str]]] = []
    for unit in list(lib.units):
        named: List[n.Node] = [*unit.aliases, *unit.functions]
        if not named:
            continue
        probes = []
        for alias in sorted({a.name for a in unit.aliases}):
            reads = ''.join(f' print({v})' for v in pipe._alias_variables(alias))
            probes.append(f'probe {alias} {{{reads} }}')
        calls = []
        for f in unit.functions:
            args = ', '.join('""' if p.type == n.STRING else '0' for p in f.params)
            calls.append(f'{f.name}({args})')
        if calls:
            off = f'stapcheck_off_{len(cases)}'
            probes.append(f'global {off}\nprobe begin {{ if ({off}) {{\n\t' +
                          '\n\t'.join(calls) + '\n} }')
        cases.append(('tapset ' + _tapset_name(pipe, named[0].pos.source.name),
                      ['\n'.join(probes) + '\n']))
    if lib.generators:
        cases.append(('tapset syscall.* (from the syscall table)',
                      ['probe syscall.*, nd_syscall.* { print(argstr) }\n',
                       'probe syscall.*.return, nd_syscall.*.return { print(retstr) }\n'
                       'global stapcheck_off\nprobe begin { if (stapcheck_off)\n'
                       '\tprint(errno_str(1) . _signal_name(9) . syscall_name(0)) }\n']))
    return cases


def _tapset_name(pipe: Pipeline, path: str) -> str:
    for d in pipe.tapset_dirs():
        # the kit's X/tapset/ as "X/tapset/F"; an -I directory's files as "F"
        base = d if d in pipe.options.tapset_dirs else d.parent.parent
        try:
            return str(Path(path).relative_to(base))
        except ValueError:
            continue
    return path


def check(pipe: Pipeline, directory: Path) -> int:
    """Build each script of a directory, and every alias and function of the
    tree's tapsets; KTAP says which built and why not."""
    scripts = sorted(directory.resolve().glob('*.stp'))
    if not scripts:
        raise error(f'no .stp scripts in {directory}')
    pipe.tree()                 # a clear error before N identical ones
    cases = tapset_cases(pipe)
    absent = pipe.absent_tapsets()
    report = Report(len(scripts) + len(cases) + len(absent))
    for script in scripts:
        module = 'stapcheck_' + re.sub(r'\W', '_', script.stem)
        try:
            with tempfile.TemporaryDirectory(prefix='stap-check-') as tmp:
                pipe.build(_generate(pipe, script, module), Path(tmp))
        except StapError as e:
            lines = (e.prelude + str(e)).splitlines()
            errors = [ln for ln in lines if 'error' in ln] or lines[-1:]
            report.result(script.name, lines[:20], errors[0] if errors else 'failed')
            continue
        report.result(script.name, [])
    _check_tapsets(pipe, cases, report)
    for path, missing in absent:
        report.skip('tapset ' + _tapset_name(pipe, str(path)),
                    f'{", ".join(missing)} not set in the tree')
    return report.summary()


def _check_tapsets(pipe: Pipeline, cases: List[Tuple[str, List[str]]],
                   report: Report) -> None:
    """Each case resolved on its own, then built in one kbuild run: the
    one-script cases together as one module (the runtime compiled once),
    the others a module per script.  If that build fails, each case is built
    on its own to say which."""
    scripts: Dict[str, List[str]] = {}
    failed: Dict[str, str] = {}
    for name, texts in cases:
        try:
            for text in texts:
                pipe.resolve(pipe.parse(Source(f'<{name}>', text), args=[], guru=True))
            scripts[name] = texts
        except StapError as e:
            failed[name] = e.prelude + str(e)

    def build(modules: Dict[str, Tuple[str, List[str]]], tmp: Path) -> Set[str]:
        """{module: (case, its scripts)} built in one kbuild run; the modules
        that failed (a case's failure recorded; '' is no one case)."""
        gens, broken = [], set()
        for module, (name, texts) in modules.items():
            try:
                parsed = pipe.parse(Source(f'<{name or "tapsets"}>', '\n'.join(texts)),
                                    args=[], guru=True)
                gens.append(pipe.generate(pipe.resolve(parsed), module))
            except StapError as e:
                broken.add(module)
                if name:
                    failed.setdefault(name, e.prelude + str(e))
        _, output = pipe.build_each(gens, tmp)
        for module, text in output.items():
            if modules[module][0]:
                failed.setdefault(modules[module][0], text)
        return broken | set(output)

    singles = {name: texts for name, texts in scripts.items() if len(texts) == 1}
    first = {f'stapcheck_tapset_{i}_{j}': (name, [text])
             for i, (name, texts) in enumerate(scripts.items()) if len(texts) > 1
             for j, text in enumerate(texts)}
    if singles:
        first['stapcheck_tapsets'] = ('', [t for texts in singles.values() for t in texts])
    with tempfile.TemporaryDirectory(prefix='stap-check-') as tmp:
        if 'stapcheck_tapsets' in build(first, Path(tmp)):
            # which of them: each on its own, in one more kbuild run
            build({f'stapcheck_tapset_{i}': (name, texts)
                   for i, (name, texts) in enumerate(singles.items())}, Path(tmp))
    for name, _ in cases:
        if name in failed:
            lines = failed[name].splitlines()
            errors = [ln for ln in lines if 'error' in ln] or lines[-1:]
            report.result(name, lines[:20], errors[0] if errors else 'failed')
        else:
            report.result(name, [])


def module_name(script: Path) -> str:
    return 'selftest_' + re.sub(r'\W', '_', script.stem)


def selftest(pipe: Pipeline, directory: Path, console: Path) -> int:
    from .run import vm
    scripts = sorted(p for p in directory.resolve().glob('*.stp')
                     if p.with_suffix('.out').exists())
    if not scripts:
        raise error(f'no NAME.stp with a NAME.out in {directory}')
    tree = pipe.tree()
    report = Report(len(scripts))
    gens = [_generate(pipe, s, module_name(s)) for s in scripts]
    with tempfile.TemporaryDirectory(prefix='stap-test-') as tmp:
        kos = pipe.build_many(gens, Path(tmp))
        jobs = []
        for s in scripts:
            cmd = s.with_suffix('.cmd')
            jobs.append(vm.BatchJob(kos[module_name(s)],
                                    cmd.read_text().strip() if cmd.exists() else None,
                                    timeout=20))
        try:
            results = vm.run_batch(tree.bzimage, jobs, console)
        except vm.VMError as e:
            raise error(str(e)) from None
    for s, res in zip(scripts, results):
        problems: List[str] = []
        want = s.with_suffix('.out').read_text()
        err = s.with_suffix('.err')
        if res.output != want:
            problems.append(f'output {res.output!r}, expected {want!r}')
        if res.exit_code != (1 if err.exists() else 0):
            problems.append(f'exit status {res.exit_code}')
            problems += [f'  {ln}' for ln in res.messages.splitlines()[-5:]]
        if err.exists() and err.read_text().strip() not in res.messages:
            problems.append(f'messages {res.messages!r} lack {err.read_text().strip()!r}')
        report.result(s.name, problems)
    return report.summary(f'; console log: {console}')
