"""Assemble the module's C: translated handlers + resolved probes + templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from . import render
from .resolve import Resolved
from .semantic import Program
from .translate import global_decls, translate

# Run-time limits (SystemTap's names), each overridable with -D NAME=VALUE.
DEFAULT_LIMITS: Dict[str, str] = {
    'MAXACTION': '1000',
    'MAXMAPENTRIES': '2048',
    'MAXSTRINGLEN': '256',
    'MAXERRORS': '0',
    'MAXNESTING': '10',
    'MAXSKIPPED': '100',
    'MAXTRYLOCK': '1000',
    'STP_PRINTBUF': '8192',
    'STP_BUFSIZE': '(1024 * 1024)',
    'STP_READ_CHUNK': '(256 * 1024)',
    'STP_HOUSEKEEPING_MS': '20',
}


@dataclass
class ModuleSource:
    name: str
    text: str


def generate(program: Program, probes: List[Resolved], script_path: Path,
             module: str, template_dirs: List[Path], template_set: str,
             kernel_release: str, build_id: str = '', kdir: str = '',
             bufsize_mb: Optional[int] = None,
             line_directives: bool = True) -> ModuleSource:
    handlers = translate(program, script_path)
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
        'points': probes,
        'globals': global_decls(program),
        'kprobes': [_kprobe(p) for p in of_kind('kprobe')],
        'kretprobes': [_kprobe(p) for p in of_kind('kretprobe')],
        'timers': of_kind('timer'),
        'begin_probes': [p.index for p in of_kind('begin')],
        'end_probes': [p.index for p in of_kind('end')],
    }
    text = render.render(template_dirs, 'module.c.j2', context, line_directives)
    return ModuleSource(module, text)


def _kprobe(p: Resolved) -> Dict[str, object]:
    return {'symbol': p.symbol, 'offset_hex': f'{p.offset:#x}', 'probe_index': p.index,
            'maxactive': p.maxactive, 'target': p.target, 'target_size_hex': f'{p.target_size:#x}',
            'target_module': p.target_module}
