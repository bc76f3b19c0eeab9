# SPDX-License-Identifier: GPL-2.0
"""procfs("NAME").read / .write: files of the script's own under /proc.

    probe procfs("status").read { $value = sprintf("%d\\n", n) }
    probe procfs("status").write { n = strtol($value, 10) }
    probe procfs.umask(0002).read.maxsize(128) { ... }

The files live in the module's own /proc directory, /proc/stapgen_MODULE/,
next to its control file (a directory shared by several modules, as
SystemTap's /proc/systemtap/, cannot be made with the exported proc API:
nothing can look up another module's entry).  NAME defaults to
"command".  A read runs the .read probe once per open file, its $value
being what the reader gets; a write runs the .write probe with $value
holding what was written, at most .maxsize(N) bytes a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional

from ..diag import error
from ..frontend import nodes as n
from ..frontend.semantic import FamilyVar
from .base import Family, Generation, Kconfig, Probe

if TYPE_CHECKING:
    from .resolve import Resolver

NAME = re.compile(r'[A-Za-z0-9_.-]{1,64}$')
RESERVED = ('output', 'control')        # the runner's own files in that directory
VALUE = {'value': FamilyVar(n.STRING, 'stp_procfs_value', 'stp_procfs_set_value',
                            append='stp_procfs_append_value')}
MAXSIZE = 1 << 20                       # .maxsize(N): what one open may allocate


@dataclass
class ProcfsProbe(Probe):
    file: str = 'command'
    op: str = 'read'
    umask: int = 0o022
    maxsize: int = 0            # 0: MAXSTRINGLEN - 1

    family = 'procfs'

    def kconfig(self) -> Kconfig:
        return [('CONFIG_PROC_FS', 'procfs probes are files under /proc')]

    def template(self, gen: Generation) -> Dict[str, object]:
        return {'index': self.index, 'file': self.file, 'op': self.op,
                'umask': f'0{self.umask:03o}', 'maxsize': self.maxsize}


class Procfs(Family):
    name = 'procfs'
    points = ('procfs("NAME").read', 'procfs("NAME").write', 'procfs.umask(M).read',
              'procfs("NAME").read.maxsize(N)')

    def matches(self, names: List[str]) -> bool:
        return names[0] == 'procfs'

    def variables(self, names: List[str]) -> Optional[Dict[str, FamilyVar]]:
        return VALUE

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        comps = list(pp.components)
        head = comps.pop(0)
        file = 'command'
        if head.arg is not None:
            if not isinstance(head.arg, str) or not NAME.match(head.arg) or \
                    head.arg in RESERVED or head.arg in ('.', '..'):
                raise error(f'procfs("{head.arg}"): a file name of letters, digits, '
                            "'_', '.' and '-'", head.pos,
                            hint=f'{" and ".join(RESERVED)} are the runner\'s own files')
            file = head.arg
        umask = 0o022
        if comps and comps[0].name == 'umask':
            c = comps.pop(0)
            if not isinstance(c.arg, int) or not 0 <= c.arg <= 0o777:
                raise error('.umask(M) takes a mode mask, 0 to 0777', c.pos)
            umask = c.arg
        if not comps or comps[0].name not in ('read', 'write') or comps[0].arg is not None:
            raise error('a procfs probe is .read or .write', (comps[0] if comps else head).pos,
                        hint='procfs("NAME").read, procfs("NAME").write')
        op = comps.pop(0).name
        maxsize = 0
        if comps and comps[0].name == 'maxsize':
            c = comps.pop(0)
            if not isinstance(c.arg, int) or c.arg <= 0:
                raise error('.maxsize(N) takes a positive number of bytes', c.pos)
            if c.arg > MAXSIZE:
                raise error(f'.maxsize({c.arg}): a procfs file holds at most {MAXSIZE} bytes',
                            c.pos, hint='each open of the file allocates that much')
            maxsize = c.arg
        if comps:
            raise error(f"unknown procfs probe suffix '.{comps[0].name}'", comps[0].pos,
                        hint='.umask(M) before .read/.write, .maxsize(N) after')
        pp_text = f'procfs("{file}")' + (f'.umask(0{umask:03o})' if umask != 0o022 else '') + \
            f'.{op}' + (f'.maxsize({maxsize})' if maxsize else '')
        return [ProcfsProbe(handler, pp_text, file=file, op=op, umask=umask,
                            maxsize=maxsize)]
