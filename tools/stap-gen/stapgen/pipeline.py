# SPDX-License-Identifier: GPL-2.0
"""The pipeline: parse -> resolve -> generate -> build, one typed step each.

Every way of running stap-gen goes through a Pipeline: the command line,
`make stap`, --check and --test, the benchmarks and the tests.  Each step
takes the previous step's result and returns its own; the tree, its
symbol table and its DWARF are opened once, when a step first needs them.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from elftools.common.exceptions import ELFError

from . import paths
from .diag import Source, error
from .elf import dwarfindex, symbols
from .frontend import nodes as n
from .frontend import parser, semantic
from .probes.base import Kconfig, Probe
from .probes.names import plain_function_names
from .probes.resolve import Resolver
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
        vmlinux = self.vmlinux()
        try:
            return dwarfindex.open_index(vmlinux, self.symbols()[0].build_id)
        except (OSError, ValueError) as e:
            raise error(f'cannot index the DWARF of {vmlinux}: {e}') from None

    def template_dirs(self) -> List[Path]:
        """The tree's template set, then common/: a set overrides by file."""
        templates = (self.options.templates or paths.templates_dir()).resolve()
        return [kerneltree.find_template_set(self.tree(), templates), templates / 'common']

    # -- the steps ---------------------------------------------------------------------
    def parse(self, source: Source) -> Parsed:
        script = parser.parse(source, lambda name: self.tree().fact(name))
        return Parsed(source, script, semantic.check(script))

    def resolve(self, parsed: Parsed) -> Placed:
        if self.options.vmlinux is None:
            self.tree()                 # a tree that is not there is the first error
        self._prefetch = plain_function_names(parsed.script)
        resolver = Resolver(self.symbols, self.options.verbose, self.index,
                            None if self.options.vmlinux else self.tree().objtree,
                            self.options.guru, listing=self.options.listing)
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

    def generate(self, placed: Placed, module: str) -> Generated:
        if self.options.vmlinux is not None:
            raise error('--vmlinux stops at -p2: building a module needs a kernel tree (-r)')
        from .codegen import generate as codegen    # jinja2 only from pass 3 on
        tree = self.tree()
        dirs = self.template_dirs()
        syms, dwarf = self.symbols()
        c = codegen.generate(placed.parsed.program, placed.probes, placed.parsed.source.name,
                             module, dirs, dirs[0].name, tree.release, syms.build_id,
                             self.options.bufsize_mb,
                             line_directives=self.options.line_directives,
                             dwarf=dwarf, symbols=syms, dwarf_index=self.index)
        return Generated(placed, module, c.text, dirs)

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
                                 self.template_dirs())
