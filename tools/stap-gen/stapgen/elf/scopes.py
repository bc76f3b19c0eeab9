# SPDX-License-Identifier: GPL-2.0
"""Scopes, variables and types at a probe address, from the tree's DWARF.

A probe point's address (its link-time pc, known from the resolver) picks a
scope in the tree's DWARF: the out-of-line function, or the inlined
instance, with the lexical blocks that contain the pc.  Every variable of
that scope has a type (DW_AT_type) and a location valid at the pc (an
expression, or one entry of a location list).  The location is compiled
here into C over the runtime's helpers (codegen.targets binds script
expressions to it):

  stp_dwreg(c, N)                 DWARF register N of the probe's pt_regs
  stp_deref(c, addr, size, sign)  a fault-safe read; a bad address is a
                                  script error, never an oops
  stp_trunc(value, size, sign)    a register value cut to the type's size
  stp_bitfield(c, addr, ...)      a bitfield member

Nothing here is a kernel fact: the register numbers are the psABI's, the
offsets and sizes are the tree's DWARF.  The generated C never holds a
kernel address: locations are relative to registers and the frame, and a
variable that lives at a fixed address (DW_OP_addr) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.locationlists import LocationExpr, LocationParser

from .symbols import Dwarf, address_entries, follow_origin

SCOPE_TAGS = ('DW_TAG_lexical_block', 'DW_TAG_inlined_subroutine')
VAR_TAGS = ('DW_TAG_formal_parameter', 'DW_TAG_variable')


class Unavailable(Exception):
    """A variable that exists but cannot be read at this pc."""


# -- types ------------------------------------------------------------------------

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

@dataclass
class Variable:
    name: str
    die: Any
    ctype: CType
    is_param: bool


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


class DwarfFile:
    """DWARF scopes of one ELF file, with its types and call-frame info."""

    def __init__(self, dwarf: Any, index: Optional[Callable[[], Any]] = None,
                 relocatable: bool = False) -> None:
        self.dwarf: Dwarf = dwarf
        # A .ko: its addresses are offsets in their own sections (.text,
        # .init.text, .exit.text all start at 0), so a pc alone is ambiguous
        # and a scope must also carry the probed function's name.
        self.relocatable = relocatable
        self.index = index                  # opens the DwarfIndex, for types by name
        self.info = dwarf.info()
        self.types = Types()
        self._loc_parser = LocationParser(self.info.location_lists()) if self.info else None
        self._expr_parser = DWARFExprParser(self.info.structs) if self.info else None
        self._fdes: Optional[List[Tuple[int, int, Any]]] = None

    def ranges(self, cu: Any, die: Any) -> List[Tuple[int, int]]:
        return self.dwarf.die_ranges(cu, die)

    def _contains(self, cu: Any, die: Any, pc: int) -> bool:
        return any(lo <= pc < hi for lo, hi in self.ranges(cu, die))

    def site(self, pc: int, func: str, inline: bool, func_entry: int,
             ret: bool = False) -> 'Site':
        """The scope at pc: func's out-of-line body, or its inlined instance."""
        cu, sub = self._subprogram_at(pc, func)
        chain = [sub]
        die = sub
        while True:
            inner = next((d for d in die.iter_children()
                          if d.tag in SCOPE_TAGS and self._contains(cu, d, pc)), None)
            if inner is None:
                break
            chain.append(inner)
            die = inner
        if inline:
            inst = self._inlined_at(cu, sub, func, pc)
            if inst is None:
                raise Unavailable(f'no inlined instance of {func} at this address')
            chain = [inst] + [d for d in chain if _is_below(d, inst)]
        scopes = [chain[0]]
        for d in chain[1:]:
            if d.tag == 'DW_TAG_inlined_subroutine':
                break
            scopes.append(d)
        return Site(self, cu, sub, scopes, pc, func, pc == func_entry and not inline, ret)

    def _subprogram_at(self, pc: int, func: str) -> Tuple[Any, Any]:
        """The unit and the out-of-line subprogram whose code holds pc."""
        if self.info is None:
            raise Unavailable('the tree has no DWARF (CONFIG_DEBUG_INFO)')
        if self.relocatable:
            return self._named_subprogram(pc, func)
        cu = self.dwarf.unit_at(pc)
        if cu is None:
            raise Unavailable(f'no DWARF unit covers {func}')
        for die in cu.get_top_DIE().iter_children():
            if die.tag == 'DW_TAG_subprogram' and self._contains(cu, die, pc):
                return cu, die
        raise Unavailable(f'no DWARF subprogram covers {func}')

    def inline_ranges(self, entry: int, func: str) -> List[Tuple[int, int]]:
        """The address ranges of the instance of func inlined at entry."""
        cu, sub = self._subprogram_at(entry, func)
        inst = self._inlined_at(cu, sub, func, entry)
        if inst is None:
            raise Unavailable(f'no inlined instance of {func} at {entry:#x}')
        return self.ranges(cu, inst)

    def _named_subprogram(self, pc: int, func: str) -> Tuple[Any, Any]:
        found = [(cu, die) for cu in self.info.iter_CUs()
                 for die in cu.get_top_DIE().iter_children()
                 if die.tag == 'DW_TAG_subprogram' and _name(_origin(die)) == func
                 and self._contains(cu, die, pc)]
        if len(found) != 1:
            raise Unavailable(f'{len(found)} DWARF subprograms named {func} cover '
                              f'offset {pc:#x}' if found else
                              f'no DWARF subprogram named {func} covers offset {pc:#x}')
        return found[0]

    def _inlined_at(self, cu: Any, die: Any, func: str, pc: int) -> Any:
        """The instance of func inlined at pc: its entry pc is pc (the entry
        may sit in an empty range, so containment is not enough)."""
        for d in die.iter_children():
            if d.tag not in SCOPE_TAGS:
                continue
            if d.tag == 'DW_TAG_inlined_subroutine' and _name(_origin(d)) == func:
                entry = _attr(d, 'DW_AT_entry_pc')
                rs = self.ranges(cu, d)
                if entry is None and rs:
                    entry = min(lo for lo, _ in rs)
                if entry == pc:
                    return d
            found = self._inlined_at(cu, d, func, pc)
            if found is not None:
                return found
        return None

    def unit_of_file(self, file: str) -> Any:
        """The compilation unit of a source file (one of its functions'), or None."""
        if self.index is None or self.info is None:
            return None
        addr = self.index().function_in_file(file)
        return self.dwarf.unit_at(addr) if addr is not None else None

    def named_type(self, name: str) -> Optional[CType]:
        """A complete type of that name anywhere in the file ('struct x', a typedef)."""
        if self.index is None or self.info is None:
            return None
        off = self.index().type_die(name)
        return self.types.of(self.info.get_DIE_from_refaddr(off)) if off is not None else None

    # -- call frame information: the CFA at a pc ---------------------------------------
    def cfa(self, pc: int) -> str:
        if self._fdes is None:
            fdes = []
            entries = self.info.CFI_entries() if self.info.has_CFI() else []
            for e in entries:
                if 'initial_location' in getattr(e, 'header', {}):
                    start = e['initial_location']
                    fdes.append((start, start + e['address_range'], e))
            fdes.sort(key=lambda x: x[0])
            self._fdes = fdes
        covering = [x for x in self._fdes if x[0] <= pc < x[1]]
        if self.relocatable and len(covering) > 1:
            # (section offsets of .text and .init.text alias in a .ko)
            raise Unavailable('the call-frame information of this address is ambiguous '
                              'in the module')
        if covering:
            rule = None
            for row in covering[0][2].get_decoded().table:
                if row['pc'] > pc:
                    break
                rule = row.get('cfa')
            if rule is not None and rule.reg is not None:
                return f'((u64)stp_dwreg(c, {rule.reg}) + {_c_int(rule.offset)})'
        raise Unavailable('no call-frame information for this address')

    def expr(self, raw: Any) -> List[Any]:
        assert self._expr_parser is not None
        return self._expr_parser.parse_expr(raw)


class Site:
    """The variables in scope at one probe address."""

    def __init__(self, f: DwarfFile, cu: Any, sub: Any, scopes: List[Any], pc: int,
                 func: str, at_entry: bool, ret: bool) -> None:
        self.file = f
        self.cu = cu
        self.sub = sub
        self.scopes = scopes
        self.pc = pc
        self.func = func
        self.at_entry = at_entry
        self.ret = ret
        self._vars: Optional[List[Variable]] = None

    def variables(self) -> List[Variable]:
        if self._vars is None:
            params: List[Tuple[int, Variable]] = []
            local: List[Tuple[int, Variable]] = []
            seen = set()
            for scope in self.scopes:
                for d in scope.iter_children():
                    if d.tag not in VAR_TAGS or 'DW_AT_declaration' in d.attributes:
                        continue
                    o = _origin(d)
                    name = _name(o)
                    if not name or name in seen:
                        continue
                    seen.add(name)
                    v = Variable(name, d, self.file.types.of(_type_die(o)),
                                 d.tag == 'DW_TAG_formal_parameter')
                    (params if v.is_param else local).append((o.offset, v))
            # declaration order: the abstract DIEs are in source order
            self._vars = [v for _, v in sorted(params, key=lambda x: x[0])] + \
                [v for _, v in sorted(local, key=lambda x: x[0])]
        return self._vars

    def readable(self, v: Variable) -> bool:
        try:
            self.location(v)
            return True
        except Unavailable:
            return False

    def return_type(self) -> CType:
        return self.file.types.of(_type_die(_origin(self.scopes[0])))

    def where(self) -> str:
        return f'{self.func} at pc {self.pc:#x}'

    def location(self, v: Variable) -> Loc:
        """Where v is at this pc; Unavailable if the compiler did not keep it."""
        d = v.die
        if 'DW_AT_const_value' in d.attributes:
            val = d.attributes['DW_AT_const_value'].value
            if isinstance(val, int):
                return Loc('value', _c_int(val))
            raise Unavailable(f'${v.name} is a constant this tool cannot show')
        attr = d.attributes.get('DW_AT_location')
        if attr is None:
            raise Unavailable(f'${v.name} is optimized out ({self.where()})')
        assert self.file._loc_parser is not None
        parsed = self.file._loc_parser.parse_from_attribute(attr, self.cu['version'], d)
        raw: Any
        if isinstance(parsed, LocationExpr):
            raw = parsed.loc_expr
        else:
            raw = next((e.loc_expr for lo, hi, e in address_entries(self.cu, parsed)
                        if lo <= self.pc < hi), None)
            if raw is None:
                raise Unavailable(f'${v.name} is optimized out at {self.where()}')
        return self._compile(self.file.expr(raw), v.name)

    def _frame_base(self) -> str:
        attr = self.sub.attributes.get('DW_AT_frame_base')
        if attr is None:
            raise Unavailable('the function has no frame base')
        ops = self.file.expr(attr.value)
        if len(ops) == 1 and ops[0].op_name == 'DW_OP_call_frame_cfa':
            return self.file.cfa(self.pc)
        loc = self._compile(ops, 'frame base')
        return loc.c

    def _compile(self, ops: List[Any], what: str) -> Loc:
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
                stack.append(f'((u64){self._frame_base()} + {_c_int(args[0])})')
            elif name == 'DW_OP_call_frame_cfa':
                stack.append(self.file.cfa(self.pc))
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
                if not self.at_entry or len(sub) != 1 or \
                        not sub[0].op_name.startswith('DW_OP_reg'):
                    raise Unavailable(f'${what} is known here only as its value at the '
                                      f'function entry, which cannot be recovered at '
                                      f'{self.where()}')
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
            return self._join_pieces(pieces, what)
        if result is not None:
            return result
        if not stack:
            raise Unavailable(f'${what} is optimized out at {self.where()}')
        return Loc('mem', stack[-1])

    def _join_pieces(self, pieces: List[Tuple[Optional[Loc], int]], what: str) -> Loc:
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


class TraceSite(Site):
    """A tracepoint's arguments: __traceiter_NAME's parameters after __data,
    passed to the probe function and kept in c->tp_args."""

    def __init__(self, inner: Site, name: str) -> None:
        super().__init__(inner.file, inner.cu, inner.sub, inner.scopes, inner.pc,
                         f'tracepoint {name}', False, False)
        params = [v for v in inner.variables() if v.is_param]
        self._vars = params[1:]         # params[0] is void *__data

    def location(self, v: Variable) -> Loc:
        assert self._vars is not None
        return Loc('value', f'c->tp_args[{self._vars.index(v)}]')

    def prototype(self) -> List[Tuple[str, str]]:
        """(C parameter type, conversion of aN to u64) for each argument."""
        out = []
        for i, v in enumerate(self.variables()):
            t = v.ctype
            if t.kind == 'pointer' or t.kind == 'array':
                out.append(('const void *', f'(u64)(unsigned long)a{i}'))
            elif t.kind in ('base', 'enum') and t.size in (1, 2, 4, 8):
                if t.name.endswith('_Bool') or t.name.endswith('bool'):
                    ctype = '_Bool'
                else:
                    ctype = f'{"s" if t.signed else "u"}{t.size * 8}'
                out.append((ctype, f'(u64)a{i}'))
            else:
                raise Unavailable(f'{self.func} passes ${v.name} as {t.name}, which a '
                                  'probe cannot take')
        return out
