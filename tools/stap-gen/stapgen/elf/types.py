# SPDX-License-Identifier: GPL-2.0
"""The type model of target variables: DWARF type DIEs as CType (kind,
size, signedness, members with their offsets and bitfields), cached by
DIE offset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .symbols import follow_origin


@dataclass
class CType:
    kind: str               # base enum pointer struct union array func void
    name: str               # as -L prints it: "char const*", "struct file*"
    size: int = 0
    signed: bool = False
    target: Optional['CType'] = None    # pointee, element, or return type
    count: int = 0                      # array elements (0: unknown)
    die: Any = None
    is_char: bool = False

    @property
    def composite(self) -> bool:
        return self.kind in ('struct', 'union')


@dataclass
class Member:
    name: str
    offset: int
    ctype: CType
    bit_size: int = 0
    bit_offset: int = 0     # from the start of the member's byte offset


def _attr(die: Any, name: str) -> Any:
    a = die.attributes.get(name)
    return a.value if a is not None else None


def _name(die: Any) -> str:
    v = _attr(die, 'DW_AT_name')
    return v.decode(errors='replace') if isinstance(v, bytes) else (v or '')


def _origin(die: Any) -> Any:
    """The DIE that carries a concrete DIE's name and type."""
    return follow_origin(die)


def _is_below(d: Any, ancestor: Any) -> bool:
    p = d.get_parent()
    while p is not None:
        if p.offset == ancestor.offset:
            return True
        p = p.get_parent()
    return False


def _type_die(die: Any) -> Any:
    return die.get_DIE_from_attribute('DW_AT_type') if 'DW_AT_type' in die.attributes \
        else None


class Types:
    """CType for DWARF type DIEs, cached by DIE offset."""

    def __init__(self) -> None:
        self._cache: Dict[int, CType] = {}

    def of(self, die: Any) -> CType:
        if die is None:
            return CType('void', 'void')
        hit = self._cache.get(die.offset)
        if hit is None:
            hit = self._cache[die.offset] = CType('void', '?')   # recursion guard
            built = self._build(die)
            hit.__dict__.update(built.__dict__)
        return hit

    def _build(self, die: Any) -> CType:
        tag = die.tag
        if tag in ('DW_TAG_typedef', 'DW_TAG_const_type', 'DW_TAG_volatile_type',
                   'DW_TAG_restrict_type', 'DW_TAG_atomic_type'):
            inner = self.of(_type_die(die))
            t = CType(**{**inner.__dict__})
            if tag == 'DW_TAG_typedef':
                t.name = _name(die)
            elif tag == 'DW_TAG_const_type':
                t.name = inner.name + ' const'
            elif tag == 'DW_TAG_volatile_type':
                t.name = inner.name + ' volatile'
            return t
        if tag == 'DW_TAG_base_type':
            enc = _attr(die, 'DW_AT_encoding') or 0
            # DW_ATE_signed 5, signed_char 6, float 4, boolean 2, unsigned_char 8
            return CType('base' if enc != 4 else 'float', _name(die),
                         _attr(die, 'DW_AT_byte_size') or 0, enc in (5, 6), die=die,
                         is_char=enc in (6, 8))
        if tag == 'DW_TAG_enumeration_type':
            inner = _type_die(die)
            signed = self.of(inner).signed if inner is not None else False
            return CType('enum', f'enum {_name(die)}'.rstrip(),
                         _attr(die, 'DW_AT_byte_size') or 4, signed, die=die)
        if tag == 'DW_TAG_pointer_type':
            target = self.of(_type_die(die))
            name = target.name + '*'
            if target.kind == 'func':
                name = f'{target.target.name if target.target else "void"} (*)()'
            return CType('pointer', name, _attr(die, 'DW_AT_byte_size') or 8,
                         target=target, die=die)
        if tag in ('DW_TAG_structure_type', 'DW_TAG_union_type', 'DW_TAG_class_type'):
            kind = 'union' if tag == 'DW_TAG_union_type' else 'struct'
            nm = _name(die)
            return CType(kind, f'{kind} {nm}' if nm else f'{kind} {{...}}',
                         _attr(die, 'DW_AT_byte_size') or 0, die=die)
        if tag == 'DW_TAG_array_type':
            elem = self.of(_type_die(die))
            count = 0
            for sub in die.iter_children():
                if sub.tag == 'DW_TAG_subrange_type':
                    if 'DW_AT_count' in sub.attributes:
                        count = _attr(sub, 'DW_AT_count')
                    elif isinstance(_attr(sub, 'DW_AT_upper_bound'), int):
                        count = _attr(sub, 'DW_AT_upper_bound') + 1
                    break
            return CType('array', f'{elem.name}[{count or ""}]', elem.size * count,
                         target=elem, count=count, die=die)
        if tag == 'DW_TAG_subroutine_type':
            return CType('func', 'function', target=self.of(_type_die(die)), die=die)
        return CType('void', _name(die) or 'void', die=die)

    def members(self, t: CType) -> List[Member]:
        """t's members, anonymous structs and unions flattened into it."""
        out: List[Member] = []
        if not t.composite or t.die is None:
            return out
        for m in t.die.iter_children():
            if m.tag != 'DW_TAG_member':
                continue
            mt = self.of(_type_die(m))
            off = _member_offset(m)
            bit_size = _attr(m, 'DW_AT_bit_size') or 0
            bit_off = 0
            if bit_size:
                if 'DW_AT_data_bit_offset' in m.attributes:
                    dbo = _attr(m, 'DW_AT_data_bit_offset')
                    off, bit_off = dbo // 8, dbo % 8
                elif 'DW_AT_bit_offset' in m.attributes:     # DWARF 2-4, big-endian bits
                    storage = _attr(m, 'DW_AT_byte_size') or mt.size
                    bit_off = storage * 8 - _attr(m, 'DW_AT_bit_offset') - bit_size
            name = _name(m)
            if not name and mt.composite:
                out += [Member(x.name, off + x.offset, x.ctype, x.bit_size, x.bit_offset)
                        for x in self.members(mt)]
                continue
            out.append(Member(name, off, mt, bit_size, bit_off))
        return out


def _member_offset(m: Any) -> int:
    v = _attr(m, 'DW_AT_data_member_location')
    if isinstance(v, int):
        return v
    if isinstance(v, list) and len(v) >= 2 and v[0] == 0x23:     # DW_OP_plus_uconst
        return _uleb(bytes(v[1:]))
    return 0


def _uleb(data: bytes) -> int:
    result = shift = 0
    for b in data:
        result |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            break
    return result


# -- scopes and variables --------------------------------------------------------------
