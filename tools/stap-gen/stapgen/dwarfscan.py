"""One function's DWARF without indexing the whole vmlinux.

A probe on one named function needs every DIE that describes it: its
out-of-line copies and every place it was inlined, in whatever compilation
unit that happened.  The whole-vmlinux index (dwarfindex) answers that for
any name, but building it walks every unit, minutes on a distro kernel.
For a few names this module finds the units that can hold such a DIE by
searching the raw sections, and walks only those:

- every DIE named NAME carries DW_AT_name as a DW_FORM_strp offset into
  .debug_str (or, for names of three characters or fewer, the string
  itself), so the bytes of that offset appear in its unit;
- an inlined instance or an out-of-line copy points at its abstract DIE in
  the same unit (DW_AT_abstract_origin), and that DIE carries the name;
- most of the units that mention a popular name only declare it (every
  caller of kfree has a DW_AT_declaration DIE for it).  The unit's own
  abbreviation table tells, for a hit, whether a subprogram definition's
  name attribute can sit there; a declaration matters only if something in
  its unit refers to it (DW_AT_specification).

The filter may keep a unit for nothing (a coincidence of bytes), never drop
one that holds a definition, so the answer is the index's answer.  Units
are then walked with the same code that builds the index.  Files this
cannot reason about (DWARF64, string offsets tables as in split or clang
DWARF 5) are left to the whole index.
"""

from __future__ import annotations

import bisect
import mmap
import os
import re
import struct
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from elftools.elf.elffile import ELFFile

DW_TAG_subprogram = 0x2e
DW_AT_name = 0x03
DW_AT_declaration = 0x3c
DW_FORM_string = 0x08
DW_FORM_strp = 0x0e
DW_AT_abstract_origin = 0x31
DW_AT_specification = 0x47
DW_FORM_ref4 = 0x13
DW_FORM_implicit_const = 0x21
# The attributes a subprogram is named or found by, and the forms understood.
_WATCHED = {DW_AT_name: (DW_FORM_strp, DW_FORM_string),
            DW_AT_specification: (DW_FORM_ref4,),
            DW_AT_abstract_origin: (DW_FORM_ref4,)}

_CHUNK = 16 << 20

# Sizes of the fixed-size forms in 32-bit DWARF; None: the address size.
_FIXED = {0x01: None, 0x0b: 1, 0x05: 2, 0x06: 4, 0x07: 8, 0x1e: 16, 0x0c: 1, 0x19: 0,
          0x21: 0, 0x0e: 4, 0x1f: 4, 0x17: 4, 0x11: 1, 0x12: 2, 0x13: 4, 0x14: 8,
          0x10: 4, 0x20: 8, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4, 0x29: 1, 0x2a: 2,
          0x2b: 3, 0x2c: 4}


class Unsupported(Exception):
    """This file needs the whole index."""


def _uleb(buf: bytes, pos: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7f) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _uleb_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7f
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Site:
    """A subprogram abbreviation that puts an attribute at a fixed offset."""
    __slots__ = ('code', 'prefix', 'declaration')

    def __init__(self, code: bytes, prefix: int, declaration: bool) -> None:
        self.code = code            # the abbreviation code, as encoded
        self.prefix = prefix        # bytes of attributes before it
        self.declaration = declaration


class RawDwarf:
    """The raw DWARF sections of one ELF file, for byte-level searches."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open('rb') as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            sections = {s.name: (s['sh_offset'], s['sh_size'])
                        for s in ELFFile(f).iter_sections()}
        if '.debug_info' not in sections or '.debug_abbrev' not in sections:
            raise Unsupported('no DWARF')
        if '.debug_str_offsets' in sections:
            raise Unsupported('names through a string offsets table')
        self.info_off, self.info_size = sections['.debug_info']
        so, ss = sections.get('.debug_str', (0, 0))
        self.strings = self._map[so:so + ss]
        ao, asz = sections['.debug_abbrev']
        self.abbrev = memoryview(self._map)[ao:ao + asz]
        self.units: List[int] = []
        self._header: Dict[int, Tuple[int, int, int]] = {}   # unit -> (end, abbrev, addr)
        pos = 0
        while pos + 11 <= self.info_size:
            length, version = struct.unpack_from('<IH', self._map, self.info_off + pos)
            if length >= 0xfffffff0:
                raise Unsupported('64-bit DWARF')
            at = self.info_off + pos + 6
            if version >= 5:
                addr_size = self._map[at + 1]
                abbrev = struct.unpack_from('<I', self._map, at + 2)[0]
                body = pos + 12
            else:
                abbrev = struct.unpack_from('<I', self._map, at)[0]
                addr_size = self._map[at + 4]
                body = pos + 11
            self.units.append(pos)
            self._header[pos] = (pos + 4 + length, abbrev, addr_size)
            pos += 4 + length
        self._sites: Dict[int, Optional[Dict[Tuple[int, int], List[_Site]]]] = {}

    def close(self) -> None:
        self._map.close()

    # -- searches --------------------------------------------------------------
    def _find_all(self, needles: List[bytes], lo: int = 0,
                  hi: Optional[int] = None) -> List[int]:
        """Offsets in .debug_info of every occurrence of the needles in [lo, hi).

        Large ranges are read a chunk at a time rather than through the
        mapping, so a pass over the whole section does not leave hundreds of
        MB of it counted as this process's memory."""
        if not needles:
            return []
        hi = self.info_size if hi is None else hi
        pattern = re.compile(b'|'.join(re.escape(x) for x in needles))
        if hi - lo <= _CHUNK:
            base = self.info_off
            return [m.start() - base for m in pattern.finditer(self._map, base + lo, base + hi)]
        overlap = max(len(x) for x in needles) - 1
        out: List[int] = []
        with open(self.path, 'rb', buffering=0) as f:
            pos = lo
            while pos < hi:
                data = os.pread(f.fileno(), min(_CHUNK + overlap, hi - pos),
                                self.info_off + pos)
                out += [pos + m.start() for m in pattern.finditer(data)
                        if m.start() < _CHUNK]
                pos += _CHUNK
        return out

    def _string_offsets(self, name: bytes) -> List[int]:
        """Where .debug_str holds name: its own string, or else the tails of
        longer strings the linker merged it into."""
        needle = name + b'\0'
        whole, tails = [], []
        i = self.strings.find(needle)
        while i >= 0:
            (whole if i == 0 or self.strings[i - 1] == 0 else tails).append(i)
            i = self.strings.find(needle, i + 1)
        return whole or tails

    def unit_of(self, offset: int) -> int:
        return self.units[bisect.bisect_right(self.units, offset) - 1]

    def units_naming(self, name: str) -> List[int]:
        """Units that may hold a subprogram DIE named name, or one that is
        referred to (and so may be the origin of inlined copies)."""
        raw = name.encode()
        hits: Dict[int, List[Tuple[int, int]]] = {}
        offsets = [struct.pack('<I', off) for off in self._string_offsets(raw)]
        for h in self._find_all(offsets):
            hits.setdefault(self.unit_of(h), []).append((h, DW_FORM_strp))
        if len(raw) < 8:
            for h in self._find_all([raw + b'\0']):
                hits.setdefault(self.unit_of(h), []).append((h, DW_FORM_string))
        return [u for u in sorted(hits) if self._may_define(u, hits[u])]

    def _may_define(self, unit: int, hits: List[Tuple[int, int]]) -> bool:
        sites = self._sites_of(unit)
        if sites is None:
            return True             # a layout the filter cannot reason about
        end = self._header[unit][0]
        for h, form in hits:
            for s in sites.get((DW_AT_name, form), ()):
                if not self._starts_at(unit, h, s):
                    continue
                if not s.declaration:
                    return True
                # a declaration matters if a definition in the unit refers to it
                ref = struct.pack('<I', h - s.prefix - len(s.code) - unit)
                for r in self._find_all([ref], unit, end):
                    for attr in (DW_AT_specification, DW_AT_abstract_origin):
                        if any(self._starts_at(unit, r, t)
                               for t in sites.get((attr, DW_FORM_ref4), ())):
                            return True
        return False

    def _starts_at(self, unit: int, at: int, site: '_Site') -> bool:
        """Whether a DIE of site's abbreviation would put its attribute at at."""
        start = self.info_off + at - site.prefix - len(site.code)
        return start > self.info_off + unit and \
            self._map[start:start + len(site.code)] == site.code

    def _sites_of(self, unit: int) -> Optional[Dict[Tuple[int, int], List['_Site']]]:
        """Where the unit's subprogram abbreviations put their name and
        origin attributes, by (attribute, form); None when one of them comes
        after a variable-sized attribute, so no byte offset can be known."""
        _, abbrev, addr_size = self._header[unit]
        if abbrev in self._sites:
            return self._sites[abbrev]
        buf = self.abbrev
        pos = abbrev
        out: Optional[Dict[Tuple[int, int], List[_Site]]] = {}
        while True:
            code, pos = _uleb(buf, pos)
            if code == 0:
                break
            tag, pos = _uleb(buf, pos)
            pos += 1                        # DW_CHILDREN_*
            prefix: Optional[int] = 0
            found: List[Tuple[int, int, Optional[int]]] = []
            declaration = False
            while True:
                attr = buf[pos]
                if attr < 0x80:
                    pos += 1
                else:
                    attr, pos = _uleb(buf, pos)
                form = buf[pos]
                if form < 0x80:
                    pos += 1
                else:
                    form, pos = _uleb(buf, pos)
                if form == DW_FORM_implicit_const:
                    _, pos = _uleb(buf, pos)
                if attr == 0 and form == 0:
                    break
                if attr == DW_AT_declaration:
                    declaration = True
                if attr in _WATCHED:
                    found.append((attr, form, prefix))
                size = _FIXED.get(form, -1)
                if prefix is not None:
                    prefix = None if size == -1 else \
                        prefix + (addr_size if size is None else size)
            if tag != DW_TAG_subprogram or out is None:
                continue
            for attr, form, at in found:
                if at is None or form not in _WATCHED[attr]:
                    out = None              # this unit needs a walk
                    break
                out.setdefault((attr, form), []).append(
                    _Site(_uleb_bytes(code), at, declaration))
        self._sites[abbrev] = out
        return out
