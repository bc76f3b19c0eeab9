"""Assemble the module's C: translated handlers + resolved probes + templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from . import render
from ..diag import error
from ..probes.resolve import Resolved
from ..frontend.semantic import Program
from ..elf.symbols import Dwarf, SymbolTable
from ..elf.scopes import DwarfFile, Site, TraceSite, Unavailable
from .translate import global_decls, translate

# Run-time limits (SystemTap's names), each overridable with -D NAME=VALUE.
DEFAULT_LIMITS: Dict[str, str] = {
    'MAXACTION': '1000',
    'MAXMAPENTRIES': '2048',
    'MAXSTRINGLEN': '256',
    'MAXERRORS': '0',
    'MAXNESTING': '10',
    'MAXSKIPPED': '100',
    'MAXTRYLOCK': '100',            # tries for a lock, TRYLOCKDELAY us apart
    'TRYLOCKDELAY': '10',
    'STP_PRINTBUF': '8192',
    'STP_BUFSIZE': '(1024 * 1024)',
    'STP_READ_CHUNK': '(256 * 1024)',
    'STP_HOUSEKEEPING_MS': '20',
    'STP_SUPPRESS_ERRORS': '0',     # --suppress-handler-errors
}


@dataclass
class ModuleSource:
    name: str
    text: str


def generate(program: Program, probes: List[Resolved], script_path: Path,
             module: str, template_dirs: List[Path], template_set: str,
             kernel_release: str, build_id: str = '', kdir: str = '',
             bufsize_mb: Optional[int] = None,
             line_directives: bool = True, dwarf: Optional[Dwarf] = None,
             symbols: Optional[SymbolTable] = None,
             dwarf_index: Any = None) -> ModuleSource:
    handler_of = {r.index: str(r.handler) for r in probes}
    sites = Sites(probes, dwarf, handler_of, dwarf_index)
    handlers = translate(program, script_path, sites, symbols)
    entry_slots = {str(h.index): h.entry_slots for h in handlers if h.entry}
    limits = dict(DEFAULT_LIMITS)
    if bufsize_mb:
        limits['STP_BUFSIZE'] = f'({bufsize_mb} * 1024 * 1024)'

    def of_kind(kind: str) -> List[Resolved]:
        return [p for p in probes if p.kind == kind]

    context = {
        'module': module,
        'script_name': script_path.name,
        'script_path': str(script_path.resolve()),
        'template_set': template_set,
        'kernel_release': kernel_release,
        'build_id': build_id,
        'build_id_bytes': ', '.join(f'0x{build_id[i:i + 2]}'
                                    for i in range(0, len(build_id), 2)),
        'kdir': kdir,
        'limits': sorted(limits.items()),
        'handlers': handlers,
        'exported_vars': sorted({v for h in handlers for v in h.exported}),
        'points': [{'pp': p.pp, 'func': p.func, 'handler': handler_of[p.index]}
                   for p in probes],
        'globals': global_decls(program),
        'kprobes': [_kprobe(p, handler_of, entry_slots) for p in of_kind('kprobe')],
        'kretprobes': [_kprobe(p, handler_of, entry_slots) for p in of_kind('kretprobe')],
        'timers': of_kind('timer'),
        'profile_probes': [p.index for p in of_kind('profile')],
        'tracepoints': [_tracepoint(p, sites) for p in of_kind('tracepoint')],
        'begin_probes': [p.index for p in of_kind('begin')],
        'end_probes': [p.index for p in of_kind('end')],
        'error_probes': [p.index for p in of_kind('error')],
    }
    text = render.render(template_dirs, 'module.c.j2', context, line_directives)
    return ModuleSource(module, text)


def _tracepoint(p: Resolved, sites: 'Sites') -> Dict[str, object]:
    """The probe function's C prototype, from __traceiter_NAME's DWARF."""
    try:
        proto = sites.trace_site(p).prototype()
    except Unavailable as u:
        raise error(f'{p.pp}: {u}') from None
    return {'name': p.func, 'probe_index': p.index,
            'params': [t for t, _ in proto], 'args': [a for _, a in proto] or ['0']}


class Sites:
    """The DWARF scope of each probe point whose handler reads target variables
    (and of each probe point -L lists)."""

    def __init__(self, probes: List[Resolved], dwarf: Optional[Dwarf],
                 handler_of: Optional[Dict[int, str]] = None, index: Any = None) -> None:
        self.probes = probes
        self.dwarf = dwarf
        self.index = index
        self.handler_of = {} if handler_of is None else handler_of
        self._file: Optional[DwarfFile] = None
        self._modules: Dict[str, DwarfFile] = {}

    def file(self) -> Optional[DwarfFile]:
        if self._file is None and self.dwarf is not None:
            self._file = DwarfFile(self.dwarf, self.index)
        return self._file

    def module_file(self, path: str) -> DwarfFile:
        """A module's own DWARF (its types by name come from vmlinux's index)."""
        if path not in self._modules:
            self._modules[path] = DwarfFile(Dwarf(Path(path)), self.index, relocatable=True)
        return self._modules[path]

    def trace_site(self, r: Resolved) -> TraceSite:
        f = self.file()
        if f is None:
            raise Unavailable('the tree has no DWARF')
        return TraceSite(f.site(r.pc, '__traceiter_' + r.func, False, r.pc), r.func)

    def site(self, r: Resolved) -> Site:
        """r's scope, or Unavailable saying why it has none."""
        if r.kind == 'tracepoint':
            return self.trace_site(r)
        ret = r.kind == 'kretprobe'
        if r.target_module and r.kind in ('kprobe', 'kretprobe'):
            if not r.dwarf_path:
                raise Unavailable(f'{r.target} is outside .text of {r.target_module}: its '
                                  'DWARF addresses are ambiguous there')
            try:
                return self.module_file(r.dwarf_path).site(r.pc, r.func, False,
                                                           r.func_entry, ret)
            except Unavailable as u:
                raise Unavailable(f'{u} (in {r.dwarf_path})') from None
        if r.kind not in ('kprobe', 'kretprobe') or not r.pc:
            raise Unavailable(f'{r.pp} is not in code with DWARF (target variables work '
                              'in kernel.function, kernel.statement, module(...).function '
                              'and kernel.trace probes)')
        f = self.file()
        if f is None:
            raise Unavailable('the tree has no DWARF')
        return f.site(r.pc, r.func, r.inline, r.func_entry, ret)

    def __call__(self, probe: int) -> List[Tuple[object, Optional[Site], str]]:
        out: List[Tuple[object, Optional[Site], str]] = []
        for r in self.probes:
            if r.handler != probe:
                continue
            key = self.handler_of[r.index] = f'{probe}_{r.index}'
            site, why = None, ''
            try:
                site = self.site(r)
            except Unavailable as u:
                why = str(u)
            out.append((key, site, why))
        return out


def _kprobe(p: Resolved, handler_of: Dict[int, str],
            entry_slots: Dict[str, str]) -> Dict[str, object]:
    handler = handler_of[p.index]
    return {'symbol': p.symbol, 'offset_hex': f'{p.offset:#x}', 'probe_index': p.index,
            'handler': handler, 'entry_slots': entry_slots.get(handler, 0),
            'maxactive': p.maxactive, 'target': p.target, 'target_size_hex': f'{p.target_size:#x}',
            'target_module': p.target_module}
