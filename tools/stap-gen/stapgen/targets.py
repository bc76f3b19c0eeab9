"""Target variables: the probed code's own variables, read through DWARF.

A probe point's address (its link-time pc, known from the resolver) picks a
scope in the tree's DWARF: the out-of-line function, or the inlined
instance, with the lexical blocks that contain the pc.  Every variable of
that scope has a type (DW_AT_type) and a location valid at the pc (an
expression, or one entry of a location list).  This module turns both into
C expressions over the runtime's helpers:

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

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.locationlists import LocationExpr, LocationParser

from . import nodes as n
from .diag import Pos, StapError, error

SCOPE_TAGS = ('DW_TAG_lexical_block', 'DW_TAG_inlined_subroutine')
VAR_TAGS = ('DW_TAG_formal_parameter', 'DW_TAG_variable')
MAX_PRETTY_MEMBERS = 24


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
    for _ in range(4):
        if 'DW_AT_name' in die.attributes or not (
                'DW_AT_abstract_origin' in die.attributes or
                'DW_AT_specification' in die.attributes):
            return die
        key = 'DW_AT_abstract_origin' if 'DW_AT_abstract_origin' in die.attributes \
            else 'DW_AT_specification'
        die = die.get_DIE_from_attribute(key)
    return die


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
        self.dwarf = dwarf                  # symbols.Dwarf
        # A .ko: its addresses are offsets in their own sections (.text,
        # .init.text, .exit.text all start at 0), so a pc alone is ambiguous
        # and a scope must also carry the probed function's name.
        self.relocatable = relocatable
        self.index = index                  # opens the DwarfIndex, for types by name
        self.info = dwarf._dwarf()
        self.types = Types()
        self._loc_parser = LocationParser(self.info.location_lists()) if self.info else None
        self._expr_parser = DWARFExprParser(self.info.structs) if self.info else None
        self._fdes: Optional[List[Tuple[int, int, Any]]] = None

    def ranges(self, cu: Any, die: Any) -> List[Tuple[int, int]]:
        a = die.attributes
        if 'DW_AT_low_pc' in a and 'DW_AT_high_pc' in a:
            lo = a['DW_AT_low_pc'].value
            hi = a['DW_AT_high_pc']
            return [(lo, hi.value if hi.form == 'DW_FORM_addr' else lo + hi.value)]
        if 'DW_AT_ranges' not in a:
            return []
        rl = self.info.range_lists()
        entries = rl.get_range_list_at_offset(a['DW_AT_ranges'].value, cu=cu)
        base = _attr(cu.get_top_DIE(), 'DW_AT_low_pc') or 0
        out = []
        for e in entries:
            if hasattr(e, 'base_address'):
                base = e.base_address
            elif hasattr(e, 'begin_offset'):
                absolute = getattr(e, 'is_absolute', False)
                lo = e.begin_offset if absolute else base + e.begin_offset
                hi = e.end_offset if absolute else base + e.end_offset
                out.append((lo, hi))
        return out

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
        if self.info is None or self.dwarf._aranges is None:
            raise Unavailable('the tree has no DWARF (CONFIG_DEBUG_INFO)')
        if self.relocatable:
            return self._named_subprogram(pc, func)
        off = self.dwarf._aranges.cu_offset_at_addr(pc)
        if off is None:
            raise Unavailable(f'no DWARF unit covers {func}')
        cu = self.info.get_CU_at(off)
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
        if self.index is None or self.info is None or self.dwarf._aranges is None:
            return None
        addr = self.index().function_in_file(file)
        off = self.dwarf._aranges.cu_offset_at_addr(addr) if addr is not None else None
        return self.info.get_CU_at(off) if off is not None else None

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
            params: List[Variable] = []
            local: List[Variable] = []
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
        parsed = self.file._loc_parser.parse_from_attribute(attr, self.cu['version'], d)
        if isinstance(parsed, LocationExpr):
            raw = parsed.loc_expr
        else:
            raw = None
            base = _attr(self.cu.get_top_DIE(), 'DW_AT_low_pc') or 0
            for e in parsed:
                if hasattr(e, 'base_address'):
                    base = e.base_address
                elif hasattr(e, 'begin_offset'):
                    absolute = getattr(e, 'is_absolute', False)
                    lo = e.begin_offset if absolute else base + e.begin_offset
                    hi = e.end_offset if absolute else base + e.end_offset
                    if lo <= self.pc < hi:
                        raw = e.loc_expr
                        break
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


# -- target expressions ------------------------------------------------------------

@dataclass
class Bound:
    """A target expression bound at one site: C for its value and its type."""
    c: str
    ctype: CType
    is_string: bool = False
    temps: int = 0
    entry: List[str] = field(default_factory=list)


class Binder:
    """Target expressions of one probe point, as C."""

    def __init__(self, site: Optional[Site], temp: Callable[[], str],
                 index_c: Callable[[n.Expr], str], symbols: Any = None,
                 file: Optional[DwarfFile] = None) -> None:
        self.site = site
        self.file = site.file if site is not None else file
        self.types = self.file.types if self.file is not None else Types()
        self.temp = temp
        self.index_c = index_c
        self.symbols = symbols
        self.var_refs: set = set()      # exported globals @var refers to

    def fail(self, msg: str, pos: Pos, hint: Optional[str] = None) -> StapError:
        return error(msg, pos, hint=hint)

    def _need_site(self, e: n.Target) -> Site:
        if self.site is None:
            raise self.fail(f"'{e.text()}' needs a probe in the kernel's code with DWARF",
                            e.pos, hint='target variables work in kernel.function, '
                            'kernel.statement and module(...).function probes')
        return self.site

    def defined(self, e: n.Target) -> bool:
        try:
            self.value(e)
            return True
        except StapError:
            return False

    def value(self, e: n.Target) -> str:
        """C for the expression's value: an s64, or a string buffer if pretty."""
        if e.base.startswith('$$'):
            return self._list(e)
        loc, t = self._walk(e)
        if e.pretty:
            return self._pretty_value(loc, t, e)
        if e.address_of:
            if loc.kind != 'mem':
                raise self.fail(f"'{e.text()}' is in a register: it has no address",
                                e.pos)
            return f'(s64)({loc.c})'
        return self._scalar(loc, t, e)

    # -- the walk: base, then members and elements -----------------------------------
    def _walk(self, e: n.Target) -> Tuple[Loc, CType]:
        site = self._need_site(e) if e.base not in ('@cast', '@var') else self.site
        if e.base == '$return':
            assert site is not None
            if not site.ret:
                raise self.fail('$return is only available in .return probes', e.pos)
            t = site.return_type()
            if t.kind == 'void':
                raise self.fail(f'{site.func} returns void: there is no $return', e.pos)
            loc = Loc('value', 'stp_return_value(c)')
        elif e.base == '@cast':
            loc, t = self._cast(e)
        elif e.base == '@var':
            loc, t = self._global(e)
        else:
            assert site is not None
            loc, t = self._variable(site, e)
        bits: Tuple[int, int] = (0, 0)
        for st in e.steps:
            loc, t, bits = self._step(loc, t, st, e)
        if bits[0]:
            if e.address_of:
                raise self.fail(f"'{e.text()}' is a bitfield: it has no address", e.pos)
            return Loc('value', f'stp_bitfield(c, {loc.c}, {bits[1]}, {bits[0]}, '
                                f'{int(t.signed)})'), t
        return loc, t

    def _variable(self, site: Site, e: n.Target) -> Tuple[Loc, CType]:
        name = e.base[1:]
        v = next((x for x in site.variables() if x.name == name), None)
        if v is None:
            have = ' '.join('$' + x.name for x in site.variables())
            raise self.fail(f'no variable ${name} in {site.func}', e.pos,
                            hint=f'available here: {have}' if have else
                            f'{site.func} has no parameters or locals here')
        try:
            return site.location(v), v.ctype
        except Unavailable as u:
            have = ' '.join('$' + x.name for x in site.variables() if site.readable(x))
            raise self.fail(str(u), e.pos,
                            hint=f'test for it with @defined(${name}); readable here: '
                                 f'{have or "none"}') from None

    def _global(self, e: n.Target) -> Tuple[Loc, CType]:
        """@var("name[@file]"): an exported global, by its exported name."""
        name, _, file = e.type_name.partition('@')
        if self.symbols is None or not self.symbols.is_exported(name):
            raise self.fail(f"@var(\"{e.type_name}\"): '{name}' is not exported by the "
                            'kernel', e.pos,
                            hint='a module can only refer to exported symbols; stap-gen '
                                 'never embeds a kernel address to reach the others')
        # its type: from the probed function's unit, or from FILE's
        if file and (self.site is None or not _name(self.site.cu.get_top_DIE()).endswith(file)):
            cu = self.file.unit_of_file(file) if self.file is not None else None
            if cu is None:
                raise self.fail(f'@var("{e.type_name}"): no compilation unit {file} with '
                                'DWARF', e.pos)
        elif self.site is not None:
            cu = self.site.cu
        else:
            raise self.fail(f'@var("{e.type_name}") outside a function probe needs the file '
                            'whose DWARF gives its type', e.pos,
                            hint=f'@var("{name}@FILE.c"), FILE.c a source file that uses it')
        cu_name = _name(cu.get_top_DIE())
        for d in cu.get_top_DIE().iter_children():
            if d.tag == 'DW_TAG_variable' and _name(d) == name and 'DW_AT_type' in d.attributes:
                self.var_refs.add(name)
                return Loc('mem', f'(u64)(unsigned long)stp_var_{name}'), \
                    self.file.types.of(_type_die(d))
        raise self.fail(f'@var("{e.type_name}"): {cu_name} does not declare {name}', e.pos,
                        hint='the type comes from the DWARF of the probed file; probe a '
                             'function in a file that uses it')

    def _cast(self, e: n.Target) -> Tuple[Loc, CType]:
        assert e.operand is not None
        tname = e.type_name.strip()
        ptr = tname.endswith('*')
        base = tname.rstrip('* ').strip()
        t = self._find_type(base, e)
        addr = self.index_c(e.operand)
        if ptr:     # @cast(p, "struct x *") is p as a pointer to struct x
            return Loc('value', f'(u64)({addr})'), CType('pointer', t.name + '*', 8, target=t)
        return Loc('mem', f'(u64)({addr})'), t

    def _find_type(self, name: str, e: n.Target) -> CType:
        """The type, from the probed function's unit first, then from any unit."""
        name = ' '.join(name.split())
        kind, _, tag_name = name.partition(' ')
        tags = {'struct': ('DW_TAG_structure_type',), 'union': ('DW_TAG_union_type',),
                'enum': ('DW_TAG_enumeration_type',)}.get(kind)
        if tags is None:
            tags, tag_name = ('DW_TAG_typedef', 'DW_TAG_base_type'), name
        if self.site is not None:
            for d in self.site.cu.get_top_DIE().iter_children():
                if d.tag in tags and _name(d) == tag_name and \
                        'DW_AT_declaration' not in d.attributes:
                    return self.types.of(d)
        found = self.file.named_type(name) if self.file is not None else None
        if found is not None:
            return found
        raise self.fail(f'no complete type "{name}" in the DWARF of the kernel', e.pos,
                        hint='write the type as the C source names it, e.g. '
                             '"struct task_struct"')

    def _step(self, loc: Loc, t: CType, st: n.Step, e: n.Target
              ) -> Tuple[Loc, CType, Tuple[int, int]]:
        types = self.types
        if st.member is not None:
            if t.kind == 'pointer' and t.target is not None and t.target.composite:
                base = Loc('mem', f'(u64){self._scalar(loc, t, e)}')
                t = t.target
            elif t.composite:
                base = loc
            else:
                raise self.fail(f"'->{st.member}' on {t.name}, which is not a struct, "
                                'a union or a pointer to one', st.pos,
                                hint=f"'{_prefix(e, st)}' is a {t.name}: use it as a number"
                                     if t.kind in ('base', 'enum') else
                                     f"'{_prefix(e, st)}' has type {t.name}")
            members = types.members(t)
            m = next((x for x in members if x.name == st.member), None)
            if m is None:
                names = ', '.join(x.name for x in members[:30])
                raise self.fail(f"{t.name} has no member '{st.member}'", st.pos,
                                hint=f'its members: {names}' if names else
                                f'{t.name} is incomplete in this compilation unit')
            if base.kind != 'mem':
                return self._member_in_registers(base, m, e, st), m.ctype, (0, 0)
            addr = Loc('mem', f'({base.c} + {m.offset})')
            return addr, m.ctype, (m.bit_size, m.bit_offset)
        assert st.index is not None
        idx = f'(u64)({self.index_c(st.index)})'
        if t.kind == 'pointer' and t.target is not None and t.target.kind != 'void':
            base_c = f'(u64){self._scalar(loc, t, e)}'
            elem = t.target
        elif t.kind == 'array' and t.target is not None:
            if loc.kind != 'mem':
                raise self.fail(f"'{e.text()}': the array is in registers", st.pos)
            base_c, elem = loc.c, t.target
        else:
            raise self.fail(f'[...] on {t.name}, which is not an array or a pointer',
                            st.pos)
        return Loc('mem', f'({base_c} + {idx} * {max(elem.size, 1)})'), elem, (0, 0)

    def _member_in_registers(self, base: Loc, m: Member, e: n.Target, st: n.Step) -> Loc:
        """A member of a struct held in a register, or in pieces (DW_OP_piece)."""
        if m.bit_size:
            raise self.fail(f"'{e.text()}': a bitfield of a struct in registers", st.pos)
        size = max(m.ctype.size, 1)
        if base.kind == 'value':
            return Loc('value', f'((u64)({base.c}) >> {m.offset * 8})')
        assert base.pieces is not None
        for off, psize, loc in base.pieces:
            if off <= m.offset and m.offset + size <= off + psize:
                if loc is None:
                    raise self.fail(f"'{e.text()}' is optimized out here", st.pos,
                                    hint=f'test for it with @defined({e.text()})')
                if loc.kind == 'mem':
                    return Loc('mem', f'({loc.c} + {m.offset - off})')
                return Loc('value', f'((u64)({loc.c}) >> {(m.offset - off) * 8})')
        raise self.fail(f"'{e.text()}' straddles two of the registers the struct is "
                        'split over', st.pos)

    def _scalar(self, loc: Loc, t: CType, e: n.Target) -> str:
        if t.kind == 'array':
            if loc.kind != 'mem':
                raise self.fail(f"'{e.text()}': the array is in registers", e.pos)
            return f'(s64)({loc.c})'     # an array is its address, as in C
        if t.composite:
            raise self.fail(f"'{e.text()}' is a {t.name}, not a number", e.pos,
                            hint=f"read a member with ->, or print it with '{e.text()}$'")
        if t.kind in ('void', 'func') or t.size not in (1, 2, 4, 8):
            raise self.fail(f"'{e.text()}' has type {t.name}, which has no value to read",
                            e.pos)
        if loc.kind == 'pieces':
            raise self.fail(f"'{e.text()}' is split over registers; only a struct's "
                            'members can be read from them', e.pos)
        if loc.kind == 'mem':
            return f'(s64)stp_deref(c, {loc.c}, {t.size}, {int(t.signed)})'
        return f'(s64)stp_trunc({loc.c}, {t.size}, {int(t.signed)})'

    # -- pretty printing: $var$, $$parms ------------------------------------------------
    def _list(self, e: n.Target) -> str:
        site = self._need_site(e)
        if e.base == '$$return':
            if not site.ret:
                raise self.fail('$$return is only available in .return probes', e.pos)
            t = site.return_type()
            if t.kind == 'void':
                return '""'
            return self._format([('return', self._one(Loc('value', 'stp_return_value(c)'),
                                                      t, e, top=True))])
        # (in a .return probe the translator evaluates this when the function
        # is entered, where the site's locations are valid, and saves the text)
        want = {'$$parms': (True,), '$$locals': (False,), '$$vars': (True, False)}[e.base]
        items = []
        for v in site.variables():
            if v.is_param not in want:
                continue
            try:
                loc = site.location(v)
            except Unavailable:
                items.append((v.name, ('?', [])))
                continue
            items.append((v.name, self._one(loc, v.ctype, e, top=True)))
        return self._format(items)

    def _pretty_value(self, loc: Loc, t: CType, e: n.Target) -> str:
        if t.kind == 'pointer' and t.target is not None and t.target.composite:
            loc, t = Loc('mem', f'(u64){self._scalar(loc, t, e)}'), t.target
        return self._format([(None, self._one(loc, t, e, top=True, expand=True))])

    def _one(self, loc: Loc, t: CType, e: n.Target, top: bool,
             expand: bool = False, depth: int = 0) -> Tuple[str, List[str]]:
        """(printf format, C args) for one value."""
        deep = e.pretty == '$$'
        if t.kind == 'pointer' and t.target is not None and t.target.is_char and e.pretty:
            buf = self.temp()
            return '%s', [f'stp_quoted_string(c, {buf}, {self._scalar(loc, t, e)})']
        if t.kind == 'array' and t.target is not None and t.target.is_char and \
                loc.kind == 'mem':
            buf = self.temp()
            return '%s', [f'stp_quoted_string(c, {buf}, {loc.c})']
        if t.composite:
            if not (e.pretty and (expand or deep) and depth < 3) or loc.kind != 'mem':
                return '{...}', []
            fmts, args = [], []
            members = self.types.members(t)
            for m in members[:MAX_PRETTY_MEMBERS]:
                if m.bit_size:
                    val = (f'(s64)stp_bitfield(c, ({loc.c} + {m.offset}), {m.bit_offset}, '
                           f'{m.bit_size}, {int(m.ctype.signed)})')
                    fmts.append(f'.{m.name}=%lld')
                    args.append(val)
                    continue
                f, a = self._one(Loc('mem', f'({loc.c} + {m.offset})'), m.ctype, e,
                                 top=False, depth=depth + 1)
                fmts.append(f'.{m.name}={f}')
                args += a
            more = ', ...' if len(members) > MAX_PRETTY_MEMBERS else ''
            return '{' + ', '.join(fmts) + more + '}', args
        if t.kind == 'array':
            return '[...]', []
        if t.kind in ('void', 'func', 'float') or t.size not in (1, 2, 4, 8):
            return '?', []
        val = self._scalar(loc, t, e)
        if t.kind == 'pointer' or top and not e.pretty:
            return '0x%llx', [f'(unsigned long long)stp_trunc({val}, {t.size}, 0)']
        return '%lld', [f'(long long){val}']

    def _format(self, items: List[Tuple[Optional[str], Tuple[str, List[str]]]]) -> str:
        fmt = ' '.join((f'{name}=' if name else '') + f for name, (f, _) in items)
        args = [a for _, (_, al) in items for a in al]
        buf = self.temp()
        fmt_c = fmt.replace('\\', '\\\\').replace('"', '\\"')
        call = ', '.join([buf, 'MAXSTRINGLEN', f'"{fmt_c}"'] + args)
        return f'(snprintf({call}), {buf})'


def _prefix(e: n.Target, upto: n.Step) -> str:
    """The text of e before the step upto."""
    head = n.Target(e.pos, e.base, e.operand, e.type_name, e.module,
                    e.steps[:e.steps.index(upto)])
    return head.text()


def type_list(site: Site) -> str:
    """'$a:int $b:char const*' for -L: the variables readable at the site."""
    out = [f'${v.name}:{v.ctype.name}' for v in site.variables() if site.readable(v)]
    if site.ret and site.return_type().kind != 'void':
        out.append(f'$return:{site.return_type().name}')
    return ' '.join(out)
