# SPDX-License-Identifier: GPL-2.0
"""The pipeline: parse -> resolve -> generate -> build, one typed step each.

Every way of running stap-gen goes through a Pipeline: the command line,
`make stap`, --check and --test, the benchmarks and the tests.  Each step
takes the previous step's result and returns its own; the tree, its
symbol table and its DWARF are opened once, when a step first needs them.
"""

from __future__ import annotations

import fnmatch
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Dict, List, Optional, Set, Tuple

from elftools.common.exceptions import ELFError

from . import paths
from .diag import Source, StapError, error
from .elf import dwarfindex, symbols
from .frontend import nodes as n
from .frontend import parser, semantic
from .probes.base import Kconfig, Probe
from .probes.names import plain_function_names
from .probes.resolve import Resolver, family_variables
from .tree import kerneltree

# What every module needs, whatever it probes.
BASE_KCONFIG: Kconfig = [
    ('CONFIG_MODULES', 'stap-gen builds a loadable module'),
    ('CONFIG_MODULE_UNLOAD', 'the module is unloaded when the script stops')]


@dataclass
class Options:
    """What the steps may need to know besides their input."""
    kdir: Optional[Path] = None         # default: /lib/modules/$(uname -r)/build
    vmlinux: Optional[Path] = None      # resolve against a bare vmlinux (-p2 at most)
    templates: Optional[Path] = None    # default: the kit's (the tree's) kernel-templates/
    guru: bool = False
    verbose: int = 0
    listing: bool = False               # -l/-L: probe points, not placements
    bufsize_mb: Optional[int] = None
    line_directives: bool = True
    defines: Dict[str, str] = field(default_factory=dict)
    keep: bool = False
    kbuild_style: bool = False
    args: List[str] = field(default_factory=list)          # $1 ... of the script
    tapset_dirs: List[Path] = field(default_factory=list)  # -I DIR


@dataclass
class Parsed:
    source: Source
    script: n.Script
    program: semantic.Program


@dataclass
class Placed:
    parsed: Parsed
    probes: List[Probe]


@dataclass
class RunRequest:
    """How to run a built module: in QEMU or on the live kernel."""
    command: Optional[str] = None       # -c CMD
    output: Optional[Path] = None       # -o FILE (else standard output)
    vm: bool = False
    timeout: Optional[float] = None     # default: none live, 60 s in a VM
    vm_console: Optional[Path] = None
    preload: List[Path] = field(default_factory=list)
    params: str = ''                    # module parameters (-G)
    target: Optional[int] = None        # -x PID


@dataclass
class Generated:
    placed: Placed
    module: str
    c_text: str
    include_dirs: List[Path]            # the template set's headers: the line's, common/


class Pipeline:
    def __init__(self, options: Optional[Options] = None) -> None:
        self.options = options or Options()
        self._tree: Optional[kerneltree.KernelTree] = None
        self._symbols: Optional[symbols.SymbolTable] = None
        self._dwarf: Optional[symbols.Dwarf] = None
        self._prefetch: List[str] = []
        self._index: Optional[dwarfindex.Index] = None
        self._library: Optional[parser.Library] = None
        self._macros_found: Dict[str, Any] = {}
        # tapset files the tree's .config leaves out: (file, options, aliases)
        self._absent: List[Tuple[Path, List[str], List[str]]] = []
        # the arguments of the script being parsed (argv.stp.j2 is made from them)
        self.script_args: List[str] = list(self.options.args)

    # -- the tree and what is read from it, opened on first use ------------------------
    @property
    def kdir(self) -> Path:
        return self.options.kdir or Path('/lib/modules') / platform.release() / 'build'

    def tree(self) -> kerneltree.KernelTree:
        if self._tree is None:
            self._tree = kerneltree.open_tree(self.kdir)
        return self._tree

    def vmlinux(self) -> Path:
        return self.options.vmlinux or self.tree().vmlinux

    def symbols(self) -> Tuple[symbols.SymbolTable, symbols.Dwarf]:
        """The symbol table and DWARF of vmlinux.  The DWARF of the functions
        the script names is looked for meanwhile, in a second process."""
        if self._symbols is None or self._dwarf is None:
            vmlinux = self.vmlinux()
            try:
                if self._prefetch:
                    dwarfindex.prefetch(vmlinux, symbols.build_id(vmlinux), self._prefetch)
                self._symbols, self._dwarf = symbols.load(vmlinux), symbols.Dwarf(vmlinux)
            except (OSError, ValueError, ELFError) as e:
                raise error(f'cannot read {vmlinux}: {e}',
                            hint='it must be an ELF vmlinux with a symbol table') from None
        return self._symbols, self._dwarf

    def index(self) -> dwarfindex.Index:
        """The DWARF index, opened once: resolution and generation share what
        it has scanned."""
        if self._index is None:
            vmlinux = self.vmlinux()
            try:
                self._index = dwarfindex.open_index(vmlinux, self.symbols()[0].build_id)
            except (OSError, ValueError) as e:
                raise error(f'cannot index the DWARF of {vmlinux}: {e}') from None
        return self._index

    def template_dirs(self) -> List[Path]:
        """The tree's template set, then common/: a set overrides by file."""
        templates = (self.options.templates or paths.templates_dir()).resolve()
        return [kerneltree.find_template_set(self.tree(), templates), templates / 'common']

    # -- the steps ---------------------------------------------------------------------
    def tapset_dirs(self) -> List[Path]:
        """Where tapsets are looked for: -I directories, then the kit's own
        (kernel-templates/<line>/tapset/, then common/tapset/; a file of the
        line's set replaces the common one of the same path).  Without a
        tree (-p1 on a machine with none) only common/ is taken."""
        templates = (self.options.templates or paths.templates_dir()).resolve()
        try:
            kit = [d / 'tapset' for d in self.template_dirs()]
        except StapError:
            if self.options.kdir is not None:
                raise
            kit = [templates / 'common' / 'tapset']
        return list(self.options.tapset_dirs) + [d for d in kit if d.is_dir()]

    def library(self) -> parser.Library:
        """The tapsets a script may use (.stp files), with the macros of
        their .stpm files (which the script may use too), and the tapsets
        generated from the tree (syscall.*)."""
        if self._library is None:
            facts = lambda name: self.tree().fact(name)     # noqa: E731
            for d in self.options.tapset_dirs:
                if not d.is_dir():
                    raise error(f'-I {d}: no such directory')
            stpm: Dict[str, Path] = {}
            stp: Dict[str, Path] = {}
            for d in reversed(self.tapset_dirs()):   # earlier directories win
                stpm.update({str(f.relative_to(d)): f for f in d.rglob('*.stpm')})
                stp.update({str(f.relative_to(d)): f for f in d.rglob('*.stp')})
            macros = self._macros([stpm[k] for k in sorted(stpm)], facts)
            units = []
            for k in sorted(stp):
                unit = parser.parse_unit(self._read(stp[k]), facts, None, macros)
                missing = self._missing_config(stp[k])
                if missing:
                    self._absent.append((stp[k], missing, sorted({a.name for a in
                                                                  unit.aliases})))
                else:
                    units.append(unit)
            self._macros_found = macros
            self._library = parser.Library(units, trusted=True,
                                           generators=self._generators(macros))
        return self._library

    def absent_tapsets(self) -> List[Tuple[Path, List[str]]]:
        """The tapset files the tree's .config leaves out, and the options
        each needs."""
        self.library()
        return [(path, missing) for path, missing, _ in self._absent]

    def _missing_config(self, path: Path) -> List[str]:
        """The options a tapset file's '# requires: CONFIG_A CONFIG_B' line
        names that the tree does not enable (none without a tree: -p1)."""
        wanted: List[str] = []
        for line in self._read(path).text.splitlines():
            if not line.startswith('#'):
                break
            m = re.match(r'#\s*requires:\s*(.*)', line)
            if m:
                wanted += m.group(1).split()
        if not wanted:
            return []
        try:
            config = self.tree().config
        except StapError:
            if self.options.kdir is not None:
                raise
            return []
        return [o for o in wanted if not config.enabled(o)]

    def _explain(self, point: str) -> Optional[Tuple[str, str]]:
        for gen in self.library().generators:
            why = gen.explain(point)
            if why is not None:
                return why
        for path, missing, aliases in self._absent:
            if any(fnmatch.fnmatchcase(a, point) for a in aliases):
                opts = ', '.join(missing)
                return (f"probe point '{point}' is not in this tree's tapsets: "
                        f"{path.name} needs {opts}, which {self.tree().objtree / '.config'} "
                        'does not set',
                        f'the kernel is built without it; enable {opts} (make menuconfig) '
                        'and rebuild, or probe something the tree has')
        return None

    def _generators(self, macros: Dict[str, Any]) -> List[Any]:
        """The tapsets made from the tree on demand: syscall.NAME from its
        syscall table and DWARF."""
        from .tapset import syscalls
        try:
            self.template_dirs()
        except StapError:
            return []
        return [syscalls.Generator(self, macros)]

    @staticmethod
    def _read(path: Path) -> Source:
        try:
            return Source(str(path), path.read_text())
        except OSError as e:
            raise error(f'cannot read tapset {path}: {e.strerror}') from None
        except UnicodeDecodeError:
            raise error(f'tapset {path} is not UTF-8 text') from None

    def _macros(self, files: List[Path], facts: Any) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for f in files:
            out.update(parser.parse_macros(self._read(f), facts))
        return out

    def parse(self, source: Source, args: Optional[List[str]] = None,
              guru: Optional[bool] = None) -> Parsed:
        """source checked; args and guru, when given, instead of the options'."""
        library = self.library()
        self.script_args = self.options.args if args is None else args
        script = parser.parse(source, lambda name: self.tree().fact(name),
                              self.script_args,
                              self._macros_found, library)
        return Parsed(source, script, semantic.check(
            script, self.options.guru if guru is None else guru, family_variables))

    def resolve(self, parsed: Parsed) -> Placed:
        if self.options.vmlinux is None:
            self.tree()                 # a tree that is not there is the first error
        self._prefetch = plain_function_names(parsed.script)
        resolver = Resolver(self.symbols, self.options.verbose, self.index,
                            None if self.options.vmlinux else self.tree().objtree,
                            self.options.guru, listing=self.options.listing,
                            srctree=None if self.options.vmlinux else self.tree().srctree,
                            explain=self._explain)
        if self.options.listing:
            self.symbols()[0].funcs     # a listing touches most of the table: load it once
        probes = resolver.resolve(parsed.script)
        if self.options.vmlinux is None:
            self.tree().require(self.kconfig(probes))
        return Placed(parsed, probes)

    @staticmethod
    def kconfig(probes: List[Probe]) -> Kconfig:
        need = list(BASE_KCONFIG)
        for p in probes:
            need += [k for k in p.kconfig() if k not in need]
        return need

    def alias_names(self) -> List[str]:
        """Every probe alias of the library, the generated ones included."""
        lib = self.library()
        names = {a.name for u in lib.units for a in u.aliases}
        for gen in lib.generators:
            names |= set(gen.names())
        return sorted(names)

    def _alias_listing(self, point: str, variables: bool) -> Optional[List[str]]:
        """-l/-L of tapset aliases (syscall.*, vfs.read): the names that
        resolve on this tree, with -L their variables and types; None when
        point names no alias."""
        if '(' in point or '"' in point:
            return None
        want = point.split('.')
        matches = [a for a in self.alias_names() if len(a.split('.')) == len(want) and
                   all(fnmatch.fnmatchcase(x, w) for x, w in zip(a.split('.'), want))]
        if not matches:
            return None
        out = []
        for name in matches:
            names = self._alias_variables(name)
            reads = ' '.join(f'print({v})' for v in names)
            src = Source('<-L>', f'probe {name} {{ {reads} }}')
            try:
                parsed = self.parse(src, args=[], guru=True)
                self.resolve(parsed)
            except StapError:
                continue            # not placeable on this tree: not listed
            if not variables:
                out.append(name)
                continue
            locals_ = parsed.program.probes[0].locals if parsed.program.probes else {}
            typed = [f'{v}:{locals_[v].type}' for v in names
                     if v in locals_ and locals_[v].type]
            out.append(' '.join([name] + typed))
        return out

    def _alias_variables(self, name: str) -> List[str]:
        """The variables alias name's prologues set, in order."""
        unit = parser.parse_unit(Source('<-L>', f'probe {name} {{}}'), None, [],
                                 self._macros_found)
        self.library().link(unit)
        aliases: Dict[str, List[n.Alias]] = {}
        for a in unit.aliases:
            aliases.setdefault(a.name, []).append(a)
        out: List[str] = []

        def visit(alias_name: str, seen: Set[str]) -> None:
            if alias_name in seen:
                return
            seen.add(alias_name)
            for a in aliases.get(alias_name, []):
                for pp in a.points:
                    visit(str(pp).rstrip('?!'), seen)
                for node in n.walk(a.body):
                    if (isinstance(node, n.Assign) and isinstance(node.target, n.Var)
                            and node.target.name not in out):
                        out.append(node.target.name)

        visit(name, set())
        return out

    def listing(self, point: str, variables: bool) -> List[str]:
        """-l/-L: the probe points point matches (with their target variables)."""
        aliases = self._alias_listing(point, variables)
        if aliases is not None:
            return aliases
        from .codegen.generate import Sites
        from .codegen.targets import type_list
        from .elf.scopes import Unavailable
        src = Source('<-l>', f'probe {point} {{}}')
        script = parser.parse(src)
        found = self.resolve(Parsed(src, script, semantic.Program(script, {}, []))).probes
        if not variables:
            return sorted({p.pp for p in found})
        sites = Sites(found, self.symbols()[1])
        lines = set()
        for p in found:
            text = p.pp
            try:
                text += ' ' + type_list(sites.site(p))
            except Unavailable:
                pass
            lines.add(text.rstrip())
        return sorted(lines)

    def dump(self, functions: bool = False, probe_types: bool = False,
             aliases: bool = False) -> List[str]:
        """--dump-functions, --dump-probe-types, --dump-probe-aliases."""
        from .probes.resolve import FAMILIES
        out: List[str] = []
        units = self.library().units
        if probe_types:
            out += sorted({p for f in FAMILIES for p in f.points})
        if functions:
            names = set(semantic.BUILTINS) | {f.name for u in units for f in u.functions}
            out += sorted(names)
        if aliases:
            out += self.alias_names()
        return out

    def generate(self, placed: Placed, module: str) -> Generated:
        if self.options.vmlinux is not None:
            raise error('--vmlinux stops at -p2: building a module needs a kernel tree (-r)')
        from .codegen import generate as codegen    # jinja2 only from pass 3 on
        tree = self.tree()
        dirs = self.template_dirs()
        syms, dwarf = self.symbols()
        facts = codegen.TreeFacts(dirs, tree.release, syms.build_id, dwarf, syms, self.index)
        c = codegen.generate(placed.parsed.program, placed.probes, placed.parsed.source.name,
                             module, facts, self.options.bufsize_mb,
                             line_directives=self.options.line_directives)
        # a tapset of an -I directory includes its own headers by name
        includes = dirs + [d.resolve() for d in self.options.tapset_dirs]
        return Generated(placed, module, c.text, includes)

    def build(self, gen: Generated, dest: Path) -> Path:
        """dest/MODULE.ko, built by the tree's kbuild."""
        from .run import kbuild
        o = self.options
        return kbuild.build(kbuild.BuildRequest(self.tree(), gen.module, gen.c_text,
                                                o.defines, o.verbose, o.keep, o.kbuild_style,
                                                gen.include_dirs), dest)

    def build_many(self, gens: List[Generated], dest: Path) -> Dict[str, Path]:
        """Several modules in one kbuild run; a failure raises with its output."""
        from .run import kbuild
        return kbuild.build_many(self.tree(), {g.module: g.c_text for g in gens}, dest,
                                 self._include_dirs(gens))

    def build_each(self, gens: List[Generated], dest: Path
                   ) -> Tuple[Dict[str, Path], Dict[str, str]]:
        """Several modules in one kbuild run that goes on past failures: the
        .ko of each that built, the compiler output of each that did not."""
        from .run import kbuild
        return kbuild.build_each(self.tree(), {g.module: g.c_text for g in gens}, dest,
                                 self._include_dirs(gens))

    def _include_dirs(self, gens: List[Generated]) -> List[Path]:
        dirs: List[Path] = []
        for g in gens:
            dirs += [d for d in g.include_dirs if d not in dirs]
        return dirs or self.template_dirs()

    def run(self, ko: Path, req: RunRequest) -> int:
        """Load ko, run the script until it or req.command ends; its exit status.
        Backtraces in the output are symbolized from the tree."""
        from .run.symbolize import ExpandingWriter
        tree = self.tree()
        params = ' '.join(p for p in (param('stp_tree', str(tree.objtree)), req.params) if p)
        raw: BinaryIO = req.output.open('wb') if req.output else sys.stdout.buffer
        out: Any = ExpandingWriter(raw, tree.vmlinux)
        try:
            if req.vm:
                return self._run_vm(ko, req, params, out)
            from .run import runner
            self._check_live_kernel()
            try:
                return runner.run(ko, req.command, out, req.timeout, params=params,
                                  target=req.target)
            except runner.RunError as e:
                raise error(str(e)) from None
        finally:
            out.finish()
            if req.output:
                raw.close()

    def _run_vm(self, ko: Path, req: RunRequest, params: str, out: Any) -> int:
        from .run import vm
        try:
            res = vm.run(vm.VMRequest(self.tree().bzimage, ko, req.command,
                                      timeout=req.timeout or 60.0, console=req.vm_console,
                                      preload=req.preload, params=params),
                         out, sys.stderr.buffer, verbose=self.options.verbose > 0)
        except vm.VMError as e:
            raise error(str(e)) from None
        if res.exit_code != 0:
            print(f'stap-gen: the script failed in the guest (exit {res.exit_code}); '
                  f'console log: {res.console}', file=sys.stderr)
        return res.exit_code

    def _check_live_kernel(self) -> None:
        """The running kernel must be the tree's kernel (same build-id)."""
        tree = self.tree()
        want = symbols.load(tree.vmlinux).build_id
        try:
            notes = Path('/sys/kernel/notes').read_bytes()
        except OSError:
            notes = b''
        if want and bytes.fromhex(want) not in notes:
            raise error(f'the running kernel ({platform.release()}) is not the kernel '
                        f'built in {tree.objtree} (build-ids differ)',
                        hint='run it in QEMU with --vm, or boot that kernel')


def param(name: str, value: str) -> str:
    """A module parameter NAME=VALUE as insmod takes it."""
    return f'{name}="{value}"' if ' ' in value else f'{name}={value}'
