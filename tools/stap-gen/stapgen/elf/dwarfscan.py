# SPDX-License-Identifier: GPL-2.0
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
are then walked with the same code that builds the index.  Files whose
names go through a string offsets table (DW_FORM_strx, as clang's DWARF 5)
have no offset to search for and are left to the whole index.
"""

from __future__ import annotations

import bisect
import os
import re
import struct
from typing import Dict, List, Optional, Tuple

from .rawdwarf import (AT_abstract_origin, AT_declaration, AT_name, AT_specification,
                       DW_TAG_subprogram, FORM_ref4, FORM_string, FORM_strp, RawDwarf,
                       Unsupported)

__all__ = ['NameScan', 'Unsupported']

# The attributes a subprogram is named or found by, and the forms understood.
_WATCHED = {AT_name: (FORM_strp, FORM_string),
            AT_specification: (FORM_ref4,),
            AT_abstract_origin: (FORM_ref4,)}

_CHUNK = 16 << 20


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


class NameScan:
    """Byte-level searches of one file's .debug_info."""

    def __init__(self, raw: RawDwarf) -> None:
        self.raw = raw
        self._sites: Dict[int, Optional[Dict[Tuple[int, int], List[_Site]]]] = {}

    def _find_all(self, needles: List[bytes], lo: int = 0,
                  hi: Optional[int] = None) -> List[int]:
        """Offsets in .debug_info of every occurrence of the needles in [lo, hi).

        Large ranges of a mapped file are read a chunk at a time rather than
        through the mapping, so a pass over the whole section does not leave
        hundreds of MB of it counted as this process's memory."""
        if not needles:
            return []
        raw = self.raw
        hi = raw.info_size if hi is None else hi
        pattern = re.compile(b'|'.join(re.escape(x) for x in needles))
        base = raw.info_off
        if hi - lo <= _CHUNK or not raw.in_place():
            return [m.start() - base for m in pattern.finditer(raw.info, base + lo, base + hi)]
        overlap = max(len(x) for x in needles) - 1
        out: List[int] = []
        with open(raw.path, 'rb', buffering=0) as f:
            pos = lo
            while pos < hi:
                data = os.pread(f.fileno(), min(_CHUNK + overlap, hi - pos), base + pos)
                out += [pos + m.start() for m in pattern.finditer(data)
                        if m.start() < _CHUNK]
                pos += _CHUNK
        return out

    def _string_offsets(self, name: bytes) -> List[int]:
        """Where .debug_str holds name: its own string, or else the tails of
        longer strings the linker merged it into."""
        strings = self.raw.strings
        needle = name + b'\0'
        whole: List[int] = []
        tails: List[int] = []
        i = strings.find(needle)
        while i >= 0:
            (whole if i == 0 or strings[i - 1] == 0 else tails).append(i)
            i = strings.find(needle, i + 1)
        return whole or tails

    def unit_of(self, offset: int) -> int:
        units = self.raw.units
        return units[bisect.bisect_right(units, offset) - 1]

    def units_naming(self, name: str) -> List[int]:
        """Units that may hold a subprogram DIE named name, or one that is
        referred to (and so may be the origin of inlined copies)."""
        if self.raw.indirect_names:
            raise Unsupported('names through a string offsets table')
        raw = name.encode()
        hits: Dict[int, List[Tuple[int, int]]] = {}
        offsets = [struct.pack('<I', off) for off in self._string_offsets(raw)]
        for h in self._find_all(offsets):
            hits.setdefault(self.unit_of(h), []).append((h, FORM_strp))
        if len(raw) < 8:
            for h in self._find_all([raw + b'\0']):
                hits.setdefault(self.unit_of(h), []).append((h, FORM_string))
        return [u for u in sorted(hits) if self._may_define(u, hits[u])]

    def _may_define(self, unit: int, hits: List[Tuple[int, int]]) -> bool:
        sites = self._sites_of(unit)
        if sites is None:
            return True             # a layout the filter cannot reason about
        end = self.raw.header[unit][0]
        for h, form in hits:
            for s in sites.get((AT_name, form), ()):
                if not self._starts_at(unit, h, s):
                    continue
                if not s.declaration:
                    return True
                # a declaration matters if a definition in the unit refers to it
                ref = struct.pack('<I', h - s.prefix - len(s.code) - unit)
                for r in self._find_all([ref], unit, end):
                    for attr in (AT_specification, AT_abstract_origin):
                        if any(self._starts_at(unit, r, t)
                               for t in sites.get((attr, FORM_ref4), ())):
                            return True
        return False

    def _starts_at(self, unit: int, at: int, site: _Site) -> bool:
        """Whether a DIE of site's abbreviation would put its attribute at at."""
        raw = self.raw
        start = raw.info_off + at - site.prefix - len(site.code)
        return start > raw.info_off + unit and \
            raw.info[start:start + len(site.code)] == site.code

    def _sites_of(self, unit: int) -> Optional[Dict[Tuple[int, int], List[_Site]]]:
        """Where the unit's subprogram abbreviations put their name and
        origin attributes, by (attribute, form); None when one of them comes
        after a variable-sized attribute, so no byte offset can be known."""
        _, abbrev, addr_size, _, _ = self.raw.header[unit]
        if abbrev in self._sites:
            return self._sites[abbrev]
        out: Optional[Dict[Tuple[int, int], List[_Site]]] = {}
        for ab in self.raw.abbrevs(abbrev, addr_size).values():
            if ab.tag != DW_TAG_subprogram:
                continue
            declaration = any(a == AT_declaration for a, _, _, _ in ab.attrs)
            prefix: Optional[int] = 0
            for attr, form, size, _ in ab.attrs:
                if attr in _WATCHED:
                    if out is None or prefix is None or form not in _WATCHED[attr]:
                        out = None          # this unit needs a walk
                        break
                    out.setdefault((attr, form), []).append(
                        _Site(_uleb_bytes(ab.code), prefix, declaration))
                prefix = None if prefix is None or size is None else prefix + size
            if out is None:
                break
        self._sites[abbrev] = out
        return out
