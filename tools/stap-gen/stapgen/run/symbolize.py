# SPDX-License-Identifier: GPL-2.0
"""Backtraces, symbolized in user space from the tree's vmlinux.

The module writes a backtrace as raw return addresses between two \\x1f
bytes (see kernel-templates/common/runtime/backtrace.h):

    \\x1f B <ref> : <pc>,<pc>,... \\x1f     (P: the first pc is the probe's)

<ref> is where stack_trace_save is in the running kernel; its address in
vmlinux gives the KASLR offset.  Each pc becomes a line

     0xffffffff811938de : do_sys_openat2+0x0/0xa6 [kernel] (fs/open.c:1405)

with function+offset from the symbol table and file:line from the DWARF
line table (for a return address, of the call instruction before it).
The module never needs a kernel address and the kernel never formats more
than hex.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional, Tuple

from ..elf import symbols

MARKER = re.compile(rb'\x1f([BP])([0-9a-f]+):([0-9a-f,]*)\x1f')
REFERENCE = 'stack_trace_save'


class Symbolizer:
    def __init__(self, vmlinux: Path) -> None:
        self.vmlinux = vmlinux
        self._syms: Optional[symbols.SymbolTable] = None
        self._dwarf: Optional[symbols.Dwarf] = None
        self._rows: Dict[int, List[Tuple[int, str, int]]] = {}

    def _tables(self) -> Tuple[symbols.SymbolTable, symbols.Dwarf]:
        if self._syms is None:
            self._syms = symbols.load(self.vmlinux)
            self._dwarf = symbols.Dwarf(self.vmlinux)
        assert self._dwarf is not None
        return self._syms, self._dwarf

    def _line(self, func: symbols.Symbol, addr: int) -> str:
        _, dwarf = self._tables()
        rows = self._rows.get(func.addr)
        if rows is None:
            rows = self._rows[func.addr] = dwarf.line_rows(func.addr, func.addr + func.size)
        best = None
        for row in rows:
            if row[0] > addr:
                break
            best = row
        return f'{best[1]}:{best[2]}' if best else ''

    def frames(self, kind: str, ref: int, pcs: List[int]) -> List[str]:
        syms, _ = self._tables()
        refs = syms.functions(REFERENCE)
        delta = ref - refs[0].addr if refs else 0
        out = []
        for i, pc in enumerate(pcs):
            link = pc - delta
            f = syms.function_at(link)
            if f is None:
                near = syms.symbol_before(link)
                text = f'{near.name}+{link - near.addr:#x}' if near and \
                    link - near.addr < 1 << 16 else '??'
                out.append(f' 0x{pc:x} : {text} [kernel]')
                continue
            exact = i == 0 and kind == 'P'
            where = self._line(f, link if exact else link - 1)
            out.append(f' 0x{pc:x} : {f.name}+{link - f.addr:#x}/{f.size:#x} [kernel]' +
                       (f' ({where})' if where else ''))
        return out

    def expand(self, m: 're.Match[bytes]') -> bytes:
        pcs = [int(x, 16) for x in m.group(3).split(b',') if x]
        lines = self.frames(m.group(1).decode(), int(m.group(2), 16), pcs)
        return ''.join(line + '\n' for line in lines).encode()


class ExpandingWriter:
    """A binary stream that symbolizes the backtrace markers written to it."""

    MAX_PENDING = 4096

    def __init__(self, out: BinaryIO, vmlinux: Path) -> None:
        self.out = out
        self.symbolizer = Symbolizer(vmlinux)
        self.pending = b''

    def write(self, data: bytes) -> int:
        buf = self.pending + data
        self.pending = b''
        if b'\x1f' not in buf:
            self.out.write(buf)
            return len(data)
        pos = 0
        for m in MARKER.finditer(buf):
            self.out.write(buf[pos:m.start()])
            self.out.write(self.symbolizer.expand(m))
            pos = m.end()
        rest = buf[pos:]
        cut = rest.find(b'\x1f')
        if cut >= 0 and len(rest) - cut < self.MAX_PENDING:
            self.out.write(rest[:cut])      # maybe the start of a marker
            self.pending = rest[cut:]
        else:
            self.out.write(rest)
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    def fileno(self) -> int:
        """Where a command the script starts (system()) writes."""
        return self.out.fileno()

    def finish(self) -> None:
        if self.pending:
            self.out.write(self.pending)
            self.pending = b''
        self.out.flush()
