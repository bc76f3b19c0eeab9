# SPDX-License-Identifier: GPL-2.0
"""DWARF debugging entries read straight from a mapped ELF file.

Indexing a kernel means reading millions of DIEs for a handful of
attributes each.  pyelftools decodes every attribute of every DIE into
objects, which is what most of a cold index build cost.  This reader
decodes a unit's abbreviation table once, skips the attributes nobody
asked for by their size, and decodes only the few placement needs (names,
declarations, addresses, origins, call sites).  Everything else about the
DWARF (line programs, range lists, types and locations for target
variables) is still read with pyelftools.

Sections are used in place through mmap when the file stores them plainly;
compressed sections (SHF_COMPRESSED, zlib) are inflated into memory.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from elftools.elf.elffile import ELFFile

SHF_COMPRESSED = 0x800
ELFCOMPRESS_ZLIB = 1

DW_TAG_compile_unit = 0x11
DW_TAG_subprogram = 0x2e

# attributes
AT_sibling, AT_name, AT_byte_size, AT_low_pc = 0x01, 0x03, 0x0b, 0x11
AT_comp_dir, AT_abstract_origin, AT_declaration = 0x1b, 0x31, 0x3c
AT_decl_file, AT_decl_line, AT_specification = 0x3a, 0x3b, 0x47
AT_entry_pc, AT_ranges, AT_call_file, AT_call_line = 0x52, 0x55, 0x58, 0x59
AT_str_offsets_base = 0x72

# forms
FORM_addr, FORM_block2, FORM_block4, FORM_data2, FORM_data4 = 0x01, 0x03, 0x04, 0x05, 0x06
FORM_data8, FORM_string, FORM_block, FORM_block1, FORM_data1 = 0x07, 0x08, 0x09, 0x0a, 0x0b
FORM_flag, FORM_sdata, FORM_strp, FORM_udata, FORM_ref_addr = 0x0c, 0x0d, 0x0e, 0x0f, 0x10
FORM_ref1, FORM_ref2, FORM_ref4, FORM_ref8, FORM_ref_udata = 0x11, 0x12, 0x13, 0x14, 0x15
FORM_indirect, FORM_sec_offset, FORM_exprloc, FORM_flag_present = 0x16, 0x17, 0x18, 0x19
FORM_strx, FORM_addrx, FORM_strp_sup, FORM_data16, FORM_line_strp = 0x1a, 0x1b, 0x1d, 0x1e, 0x1f
FORM_implicit_const, FORM_loclistx, FORM_rnglistx = 0x21, 0x22, 0x23
FORM_strx1, FORM_strx4 = 0x25, 0x28

# Sizes of the fixed-size forms in 32-bit DWARF; None: the address size.
FIXED: Dict[int, Optional[int]] = {
    FORM_addr: None, FORM_data1: 1, FORM_data2: 2, FORM_data4: 4, FORM_data8: 8,
    FORM_data16: 16, FORM_flag: 1, FORM_flag_present: 0, FORM_implicit_const: 0,
    FORM_strp: 4, FORM_line_strp: 4, FORM_sec_offset: 4, FORM_ref1: 1, FORM_ref2: 2,
    FORM_ref4: 4, FORM_ref8: 8, FORM_ref_addr: 4, 0x20: 8, FORM_strp_sup: 4, 0x1c: 4,
    0x24: 8, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4, 0x29: 1, 0x2a: 2, 0x2b: 3, 0x2c: 4}
_UNSIGNED = (FORM_data1, FORM_data2, FORM_data4, FORM_data8, FORM_addr, FORM_sec_offset,
             FORM_flag)
_REFS = (FORM_ref1, FORM_ref2, FORM_ref4, FORM_ref8)

# What the index reads; every other attribute is skipped by its size.
WANTED = frozenset((AT_sibling, AT_name, AT_byte_size, AT_low_pc, AT_comp_dir,
                    AT_abstract_origin, AT_declaration, AT_decl_file, AT_decl_line,
                    AT_specification, AT_entry_pc, AT_ranges, AT_call_file, AT_call_line,
                    AT_str_offsets_base))


class Unsupported(ValueError):
    """A DWARF layout this reader does not handle."""


def uleb(buf: Any, pos: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7f) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def sleb(buf: Any, pos: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7f) << shift
        shift += 7
        if b < 0x80:
            return (value - (1 << shift) if b & 0x40 else value), pos


class Abbrev:
    """One abbreviation: tag, children flag and the attribute layout."""
    __slots__ = ('code', 'tag', 'children', 'attrs')

    def __init__(self, code: int, tag: int, children: bool,
                 attrs: List[Tuple[int, int, Optional[int], int]]) -> None:
        self.code = code
        self.tag = tag
        self.children = children
        self.attrs = attrs          # (attribute, form, fixed size or None, implicit value)


class Die:
    """A debugging entry: its offset in .debug_info, tag, the wanted
    attributes decoded (with their forms), and where its attributes end."""
    __slots__ = ('offset', 'tag', 'children', 'attrs', 'forms', 'end')

    def __init__(self, offset: int, tag: int, children: bool, attrs: Dict[int, Any],
                 forms: Dict[int, int], end: int) -> None:
        self.offset = offset
        self.tag = tag
        self.children = children
        self.attrs = attrs
        self.forms = forms
        self.end = end


_U = {1: struct.Struct('<B'), 2: struct.Struct('<H'), 4: struct.Struct('<I'),
      8: struct.Struct('<Q')}


class RawDwarf:
    """The DWARF sections of one ELF file and its units' headers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open('rb') as f:
            self.map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            elf = ELFFile(f)
            if elf.elfclass != 64 or not elf.little_endian:
                raise Unsupported('not a 64-bit little-endian ELF file')
            sections = {s.name: s for s in elf.iter_sections()}
            if '.debug_info' not in sections or '.debug_abbrev' not in sections:
                raise Unsupported(f'{path} has no DWARF')
            # (buffer, where the section starts in it, size)
            self.sections = {name: self._section(sec) for name, sec in sections.items()
                             if name.startswith('.debug_')}
        self.info, self.info_off, self.info_size = self.sections['.debug_info']
        self.abbrev, self.abbrev_off, _ = self.sections['.debug_abbrev']
        self.strings = self._bytes('.debug_str')
        self.line_strings = self._bytes('.debug_line_str')
        self.str_offsets = self._bytes('.debug_str_offsets')
        self.indirect_names = bool(self.str_offsets)
        self.units: List[int] = []
        self.header: Dict[int, Tuple[int, int, int, int, int]] = {}
        pos = 0
        info = self.info
        while pos + 11 <= self.info_size:
            length, version = struct.unpack_from('<IH', info, self.info_off + pos)
            if length >= 0xfffffff0:
                raise Unsupported('64-bit DWARF')
            at = self.info_off + pos + 6
            if version >= 5:
                unit_type, addr_size = info[at], info[at + 1]
                abbrev = struct.unpack_from('<I', info, at + 2)[0]
                first = pos + 12 + (8 if unit_type in (4, 5) else 0) + \
                    (12 if unit_type in (2, 6) else 0)
            else:
                abbrev = struct.unpack_from('<I', info, at)[0]
                addr_size = info[at + 4]
                first = pos + 11
            self.units.append(pos)
            # end, abbreviations, address size, first DIE, version
            self.header[pos] = (pos + 4 + length, abbrev, addr_size, first, version)
            pos += 4 + length
        self._abbrevs: Dict[Tuple[int, int], Dict[int, Abbrev]] = {}

    def _section(self, sec: Any) -> Tuple[Any, int, int]:
        if sec['sh_type'] == 'SHT_NOBITS':
            return b'', 0, 0
        if not sec['sh_flags'] & SHF_COMPRESSED:
            return self.map, sec['sh_offset'], sec['sh_size']
        off = sec['sh_offset']
        kind, _, size = struct.unpack_from('<IIQ', self.map, off)
        if kind != ELFCOMPRESS_ZLIB:
            raise Unsupported(f'{sec.name} is compressed with a method other than zlib')
        data = zlib.decompress(self.map[off + 24:off + sec['sh_size']])
        return data, 0, size

    def _bytes(self, name: str) -> bytes:
        buf, off, size = self.sections.get(name, (b'', 0, 0))
        return bytes(buf[off:off + size])

    def close(self) -> None:
        self.map.close()

    def in_place(self) -> bool:
        """Whether .debug_info is read through the file mapping."""
        return self.info is self.map

    def abbrevs(self, offset: int, addr_size: int) -> Dict[int, Abbrev]:
        """The abbreviation table at offset in .debug_abbrev, by code."""
        key = (offset, addr_size)
        table = self._abbrevs.get(key)
        if table is not None:
            return table
        table = {}
        buf = self.abbrev
        pos = self.abbrev_off + offset
        while True:
            code, pos = uleb(buf, pos)
            if code == 0:
                break
            tag, pos = uleb(buf, pos)
            children = buf[pos] != 0
            pos += 1
            attrs = []
            while True:
                attr, pos = uleb(buf, pos)
                form, pos = uleb(buf, pos)
                implicit = 0
                if form == FORM_implicit_const:
                    implicit, pos = sleb(buf, pos)
                if attr == 0 and form == 0:
                    break
                size = FIXED.get(form, -1)
                attrs.append((attr, form, addr_size if size is None else
                              None if size == -1 else size, implicit))
            table[code] = Abbrev(code, tag, children, attrs)
        self._abbrevs[key] = table
        return table

    def unit(self, offset: int) -> 'Unit':
        return Unit(self, offset)

    def string(self, offset: int) -> str:
        s = self.strings
        return s[offset:s.index(b'\0', offset)].decode(errors='replace')

    def line_string(self, offset: int) -> str:
        s = self.line_strings
        return s[offset:s.index(b'\0', offset)].decode(errors='replace')


class Unit:
    """One compilation unit's DIEs, read on demand."""

    def __init__(self, raw: RawDwarf, offset: int) -> None:
        self.raw = raw
        self.offset = offset
        self.end, abbrev, self.addr_size, self.first, self.version = raw.header[offset]
        self.abbrevs = raw.abbrevs(abbrev, self.addr_size)
        self._names: Dict[int, str] = {}
        self._str_base = 8
        top = self.die_at(self.first)
        if top is None:
            raise Unsupported(f'unit at {offset:#x} has no entries')
        self.top = top
        if AT_str_offsets_base in top.attrs:
            self._str_base = top.attrs[AT_str_offsets_base]

    def die_at(self, offset: int) -> Optional[Die]:
        """The DIE at offset (in .debug_info), None for a null entry."""
        raw = self.raw
        buf = raw.info
        base = raw.info_off
        pos = base + offset
        code = buf[pos]
        if code < 0x80:
            pos += 1
        else:
            code, pos = uleb(buf, pos)
        if code == 0:
            return None
        ab = self.abbrevs[code]
        attrs: Dict[int, Any] = {}
        forms: Dict[int, int] = {}
        for attr, form, size, implicit in ab.attrs:
            if attr not in WANTED:
                if size is not None:
                    pos += size
                else:
                    pos = self._skip(buf, pos, form)
                continue
            forms[attr] = form
            # (reference and unsigned forms have a fixed size: size is set)
            if form in _REFS:
                attrs[attr] = self.offset + _U[size].unpack_from(buf, pos)[0]  # type: ignore
                pos += size  # type: ignore[operator]
            elif form in _UNSIGNED:
                attrs[attr] = _U[size].unpack_from(buf, pos)[0]  # type: ignore[index]
                pos += size  # type: ignore[operator]
            elif form == FORM_strp:
                off = _U[4].unpack_from(buf, pos)[0]
                pos += 4
                name = self._names.get(off)
                if name is None:
                    name = self._names[off] = raw.string(off)
                attrs[attr] = name
            elif form == FORM_line_strp:
                attrs[attr] = raw.line_string(_U[4].unpack_from(buf, pos)[0])
                pos += 4
            elif form == FORM_string:
                end = buf.find(b'\0', pos)
                attrs[attr] = bytes(buf[pos:end]).decode(errors='replace')
                pos = end + 1
            elif form == FORM_flag_present:
                attrs[attr] = True
            elif form == FORM_implicit_const:
                attrs[attr] = implicit
            elif form == FORM_udata or form == FORM_ref_udata:
                v, pos = uleb(buf, pos)
                attrs[attr] = self.offset + v if form == FORM_ref_udata else v
            elif form == FORM_sdata:
                attrs[attr], pos = sleb(buf, pos)
            elif form == FORM_ref_addr:
                attrs[attr] = _U[4].unpack_from(buf, pos)[0]
                pos += 4
            elif FORM_strx1 <= form <= FORM_strx4 or form == FORM_strx:
                if form == FORM_strx:
                    index, pos = uleb(buf, pos)
                else:
                    n = form - FORM_strx1 + 1
                    index = int.from_bytes(buf[pos:pos + n], 'little')
                    pos += n
                at = self._str_base + 4 * index
                attrs[attr] = raw.string(_U[4].unpack_from(raw.str_offsets, at)[0])
            else:                           # a form placement does not read
                del forms[attr]
                pos = self._skip(buf, pos, form) if size is None else pos + size
        return Die(offset, ab.tag, ab.children, attrs, forms, pos - base)

    def _skip(self, buf: Any, pos: int, form: int) -> int:
        """Past one attribute value of a variable-sized form."""
        if form in (FORM_udata, FORM_sdata, FORM_ref_udata, FORM_strx, FORM_addrx,
                    FORM_loclistx, FORM_rnglistx):
            while buf[pos] & 0x80:
                pos += 1
            return pos + 1
        if form == FORM_string:
            return buf.find(b'\0', pos) + 1
        if form in (FORM_exprloc, FORM_block):
            n, pos = uleb(buf, pos)
            return pos + n
        if form == FORM_block1:
            return pos + 1 + buf[pos]
        if form == FORM_block2:
            return pos + 2 + _U[2].unpack_from(buf, pos)[0]
        if form == FORM_block4:
            return pos + 4 + _U[4].unpack_from(buf, pos)[0]
        if form == FORM_indirect:
            real, pos = uleb(buf, pos)
            size = FIXED.get(real, -1)
            return self._skip(buf, pos, real) if size == -1 else \
                pos + (self.addr_size if size is None else size)
        raise Unsupported(f'DWARF form {form:#x} in unit at {self.offset:#x}')

    def children(self, die: Die) -> Iterator[Die]:
        """The direct children of die, skipping each one's subtree."""
        if not die.children:
            return
        pos = die.end
        while True:
            child = self.die_at(pos)
            if child is None:
                return
            yield child
            pos = self._after(child)

    def _after(self, die: Die) -> int:
        """Where the entry after die's subtree starts."""
        sibling = die.attrs.get(AT_sibling)
        if sibling is not None:
            return sibling
        if not die.children:
            return die.end
        pos = die.end
        while True:
            child = self.die_at(pos)
            if child is None:
                return self._null_end(pos)
            pos = self._after(child)

    def _null_end(self, pos: int) -> int:
        buf = self.raw.info
        at = self.raw.info_off + pos
        while buf[at] & 0x80:
            at += 1
        return at + 1 - self.raw.info_off
