# SPDX-License-Identifier: GPL-2.0
"""Assemble the module's C: translated handlers + resolved probes + templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import render
from ..probes.base import Probe
from ..frontend.semantic import Program
from ..elf.dwarfindex import Index
from ..elf.symbols import Dwarf, SymbolTable
from ..elf.scopes import DwarfFile, Site, TraceSite, Unavailable
from .limits import DEFAULT_LIMITS
from .translate import global_decls, regex_decls, tidy_c, translate



@dataclass
class ModuleSource:
    name: str
    text: str


# The families' templates, in the order their probes register.
FAMILY_ORDER = ('lifecycle', 'procfs', 'kprobe', 'tracepoint', 'timer', 'profile', 'perf',
                'netfilter', 'data')


@dataclass
class TreeFacts:
    """What generation takes from the tree (a Pipeline reads them from it;
    a test can give them without one)."""
    template_dirs: List[Path]           # the line's set, then common/
    kernel_release: str
    build_id: str = ''
    dwarf: Optional[Dwarf] = None
    symbols: Optional[SymbolTable] = None
    dwarf_index: Optional[Callable[[], Index]] = None

    @property
    def template_set(self) -> str:
        return self.template_dirs[0].name


def generate(program: Program, probes: List[Probe], script_name: str, module: str,
             tree: TreeFacts, bufsize_mb: Optional[int] = None,
             line_directives: bool = True) -> ModuleSource:
    sites = Sites(probes, tree.dwarf, tree.dwarf_index)
    handlers = translate(program, script_name, sites, tree.symbols)
    targeted = {ps.index for ps in program.probes if ps.uses_targets}
    handler_of = {r.index: Sites.key(r) if r.handler in targeted else str(r.handler)
                  for r in probes}
    gen = _Generation(handler_of, {str(h.index): h.entry_slots for h in handlers if h.entry},
                      sites)
    limits = dict(DEFAULT_LIMITS)
    if bufsize_mb:
        limits['STP_BUFSIZE'] = f'({bufsize_mb} * 1024 * 1024)'
    families = []
    for family in FAMILY_ORDER:
        mine = [p for p in probes if p.family == family]
        if mine or family == 'lifecycle':
            families.append({'name': family, 'template': f'probes/{family}.h.j2',
                             'probes': [p.template(gen) for p in mine]})
    unknown = {p.family for p in probes} - set(FAMILY_ORDER)
    assert not unknown, f'probe families without a template: {unknown}'
    context = {
        'module': module,
        'script_name': Path(script_name).name,
        'script_path': script_name,
        'template_set': tree.template_set,
        'kernel_release': tree.kernel_release,
        'build_id': tree.build_id,
        'build_id_bytes': ', '.join(f'0x{tree.build_id[i:i + 2]}'
                                    for i in range(0, len(tree.build_id), 2)),
        'limits': sorted(limits.items()),
        'handlers': handlers,
        'exported_vars': sorted({v for h in handlers for v in h.exported}),
        'points': [{'pp': p.pp, 'pn': program.probes[p.handler].probe.named or p.pp,
                    'interruptible': p.family in ('lifecycle', 'procfs'),
                    'syscall_args': program.probes[p.handler].probe.syscall_args,
                    'func': p.func, 'handler': handler_of[p.index],
                    'cond': p.handler if program.probes[p.handler].probe.condition
                    is not None else -1} for p in probes],
        'script_probes': max(1, len(program.probes)),
        'globals': global_decls(program),
        'regexes': regex_decls(handlers),
        'embedded': [{'file': b.pos.source.name if not b.pos.source.name.startswith('<')
                      else script_name, 'line': b.pos.line + tidy_c(b.code)[0],
                      'code': tidy_c(b.code)[1]}
                     for b in program.script.embedded],
        'families': families,
        # what the handlers of a family with variables of its own call ($value, ...)
        'family_headers': [f'runtime/{f["name"]}.h' for f in families
                           if f['probes'] and any((d / 'runtime' / f'{f["name"]}.h').exists()
                                                  for d in tree.template_dirs)],
    }
    text = render.render(tree.template_dirs, 'module.c.j2', context, line_directives)
    return ModuleSource(module, text)


class _Generation:
    """What the probes' templates need from the translated script."""

    def __init__(self, handler_of: Dict[int, str], entry_slots: Dict[str, str],
                 sites: 'Sites') -> None:
        self.handler_of = handler_of
        self.slots = entry_slots
        self.sites = sites

    def handler(self, probe: Probe) -> str:
        return self.handler_of[probe.index]

    def entry_slots(self, handler: str) -> Optional[str]:
        return self.slots.get(handler)

    def trace_prototype(self, probe: Probe) -> List[Tuple[str, str]]:
        site = probe.site(self.sites)
        assert isinstance(site, TraceSite)
        return site.prototype()


class Sites:
    """The DWARF scope of each probe point whose handler reads target variables
    (and of each probe point -L lists)."""

    def __init__(self, probes: List[Probe], dwarf: Optional[Dwarf],
                 index: Any = None) -> None:
        self.probes = probes
        self.dwarf = dwarf
        self.index = index
        self._file: Optional[DwarfFile] = None
        self._modules: Dict[str, DwarfFile] = {}

    @staticmethod
    def key(r: Probe) -> str:
        """The handler of a probe point bound to its own DWARF scope."""
        return f'{r.handler}_{r.index}'

    def file(self) -> Optional[DwarfFile]:
        if self._file is None and self.dwarf is not None:
            self._file = DwarfFile(self.dwarf, self.index)
        return self._file

    def _vmlinux(self) -> DwarfFile:
        f = self.file()
        if f is None:
            raise Unavailable('the tree has no DWARF')
        return f

    def module_file(self, path: str) -> DwarfFile:
        """A module's own DWARF (its types by name come from vmlinux's index)."""
        if path not in self._modules:
            self._modules[path] = DwarfFile(Dwarf(Path(path)), self.index, relocatable=True)
        return self._modules[path]

    def vmlinux_site(self, pc: int, func: str, inline: bool, func_entry: int,
                     ret: bool) -> Site:
        return self._vmlinux().site(pc, func, inline, func_entry, ret)

    def module_site(self, path: str, pc: int, func: str, func_entry: int,
                    ret: bool) -> Site:
        return self.module_file(path).site(pc, func, False, func_entry, ret)

    def trace_site(self, pc: int, name: str) -> Site:
        return TraceSite(self._vmlinux().site(pc, '__traceiter_' + name, False, pc), name)

    def site(self, r: Probe) -> Site:
        """r's scope, or Unavailable saying why it has none."""
        return r.site(self)

    def __call__(self, probe: int) -> List[Tuple[object, Optional[Site], str, bool]]:
        out: List[Tuple[object, Optional[Site], str, bool]] = []
        for r in self.probes:
            if r.handler != probe:
                continue
            site, why = None, ''
            try:
                site = self.site(r)
            except Unavailable as u:
                why = str(u)
            out.append((self.key(r), site, why, bool(getattr(r, 'ret', False))))
        return out
