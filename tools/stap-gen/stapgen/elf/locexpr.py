# SPDX-License-Identifier: GPL-2.0
"""DWARF location expressions as C, evaluated when the probe fires.

The C calls only the runtime's helpers (runtime/target.h): stp_dwreg()
for a DWARF register of the probe's pt_regs, stp_deref() for a
fault-safe read, stp_trunc() to cut a register to the type's size.
Nothing here is a kernel fact: register numbers are the psABI's, offsets
the tree's DWARF; a variable at a fixed address (DW_OP_addr) is refused,
so the generated C never holds a kernel address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Protocol, Tuple


class Unavailable(Exception):
    """A variable that exists but cannot be read at this pc."""


class LocationSite(Protocol):
    """What an expression needs of the scope it is evaluated in."""
    pc: int
    at_entry: bool

    def where(self) -> str: ...

    def _frame_base(self) -> str: ...

    def cfa(self) -> str: ...


@dataclass
class Loc:
    """Where a value is: 'mem' (c is its address), 'value' (c is the value),
    or 'pieces': a struct the compiler split (DW_OP_piece), each piece
    (offset, size, where, or None when that part is optimized out)."""
    kind: str
    c: str
    pieces: Optional[List[Tuple[int, int, Optional['Loc']]]] = None


def _u64(v: int) -> int:
    return v & ((1 << 64) - 1)


def _c_int(v: int) -> str:
    v = _u64(v)
    return f'{v:#x}ULL'


def compile_location(site: LocationSite, ops: List[Any], what: str) -> Loc:
    """A DWARF location expression as C, evaluated at probe time."""
    stack: List[str] = []
    pieces: List[Tuple[Optional[Loc], int]] = []
    result: Optional[Loc] = None

    def pop() -> str:
        if not stack:
            raise Unavailable(f'malformed DWARF expression for {what}')
        return stack.pop()

    binary = {'DW_OP_plus': '+', 'DW_OP_minus': '-', 'DW_OP_mul': '*',
              'DW_OP_and': '&', 'DW_OP_or': '|', 'DW_OP_xor': '^',
              'DW_OP_shl': '<<', 'DW_OP_shr': '>>'}
    for op in ops:
        name, args = op.op_name, op.args
        if name.startswith('DW_OP_reg'):
            regno = args[0] if name == 'DW_OP_regx' else int(name[9:])
            result = Loc('value', f'stp_dwreg(c, {regno})')
        elif name.startswith('DW_OP_breg'):
            regno, off = (args[0], args[1]) if name == 'DW_OP_bregx' \
                else (int(name[10:]), args[0])
            stack.append(f'((u64)stp_dwreg(c, {regno}) + {_c_int(off)})')
        elif name == 'DW_OP_fbreg':
            stack.append(f'((u64){site._frame_base()} + {_c_int(args[0])})')
        elif name == 'DW_OP_call_frame_cfa':
            stack.append(site.cfa())
        elif name.startswith('DW_OP_lit'):
            stack.append(_c_int(int(name[9:])))
        elif name.startswith('DW_OP_const') and args:
            stack.append(_c_int(args[0]))
        elif name == 'DW_OP_plus_uconst':
            stack.append(f'({pop()} + {_c_int(args[0])})')
        elif name in binary:
            b, a = pop(), pop()
            stack.append(f'((u64)({a}) {binary[name]} (u64)({b}))')
        elif name == 'DW_OP_shra':
            b, a = pop(), pop()
            stack.append(f'(u64)((s64)({a}) >> ({b}))')
        elif name == 'DW_OP_neg':
            stack.append(f'(u64)(-(s64)({pop()}))')
        elif name == 'DW_OP_not':
            stack.append(f'(~(u64)({pop()}))')
        elif name == 'DW_OP_deref':
            stack.append(f'stp_deref(c, {pop()}, 8, 0)')
        elif name == 'DW_OP_deref_size':
            stack.append(f'stp_deref(c, {pop()}, {args[0]}, 0)')
        elif name == 'DW_OP_dup':
            top = pop()
            stack += [top, top]
        elif name == 'DW_OP_drop':
            pop()
        elif name == 'DW_OP_swap':
            b, a = pop(), pop()
            stack += [b, a]
        elif name == 'DW_OP_over':
            if len(stack) < 2:
                raise Unavailable(f'malformed DWARF expression for {what}')
            stack.append(stack[-2])
        elif name == 'DW_OP_stack_value':
            result = Loc('value', pop())
        elif name == 'DW_OP_implicit_value':
            data = bytes(args[0])
            if len(data) > 8:
                raise Unavailable(f'${what} is a {len(data)}-byte constant')
            result = Loc('value', _c_int(int.from_bytes(data, 'little')))
        elif name in ('DW_OP_entry_value', 'DW_OP_GNU_entry_value'):
            sub = args[0]
            if not site.at_entry or len(sub) != 1 or \
                    not sub[0].op_name.startswith('DW_OP_reg'):
                raise Unavailable(f'${what} is known here only as its value at the '
                                  f'function entry, which cannot be recovered at '
                                  f'{site.where()}')
            regno = sub[0].args[0] if sub[0].op_name == 'DW_OP_regx' \
                else int(sub[0].op_name[9:])
            stack.append(f'(u64)stp_dwreg(c, {regno})')
        elif name == 'DW_OP_piece':
            if result is None and stack:
                result = Loc('mem', pop())
            pieces.append((result, args[0]))   # (None: that part is optimized out)
            result = None
        elif name == 'DW_OP_addr':
            raise Unavailable(f'${what} lives at a fixed address (a static variable);'
                              ' reading it would embed a kernel address')
        else:
            raise Unavailable(f'${what}: DWARF operation {name} is not supported')
    if pieces:
        return _join_pieces(pieces, what)
    if result is not None:
        return result
    if not stack:
        raise Unavailable(f'${what} is optimized out at {site.where()}')
    return Loc('mem', stack[-1])

def _join_pieces(pieces: List[Tuple[Optional[Loc], int]], what: str) -> Loc:
    if sum(size for _, size in pieces) > 8 or any(loc is None for loc, _ in pieces):
        # a struct in several registers: its members are read piece by piece
        out, off = [], 0
        for loc, size in pieces:
            out.append((off, size, loc))
            off += size
        return Loc('pieces', '', out)
    parts, shift = [], 0
    for loc, size in pieces:
        assert loc is not None
        val = loc.c if loc.kind == 'value' else f'stp_deref(c, {loc.c}, {size}, 0)'
        parts.append(f'((stp_trunc({val}, {size}, 0)) << {shift * 8})')
        shift += size
    return Loc('value', '(' + ' | '.join(parts) + ')')
