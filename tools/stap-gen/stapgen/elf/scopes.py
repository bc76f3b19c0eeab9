# SPDX-License-Identifier: GPL-2.0
"""Scopes and variables at a probe address, from the tree's DWARF.

A probe point's address (its link-time pc, known from the resolver) picks a
scope in the tree's DWARF: the out-of-line function, or the inlined
instance, with the lexical blocks that contain the pc.  Every variable of
that scope has a type (DW_AT_type) and a location valid at the pc (an
expression, or one entry of a location list), compiled into C by
locexpr; its type is a CType (types).  The frame's CFA comes from the
call-frame information.  codegen.targets binds script expressions to
what a Site offers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.locationlists import LocationExpr, LocationParser

from .locexpr import Loc, Unavailable, _c_int, compile_location
from .symbols import Dwarf, address_entries
from .types import CType, Types, _attr, _is_below, _name, _origin, _type_die

SCOPE_TAGS = ('DW_TAG_lexical_block', 'DW_TAG_inlined_subroutine')
VAR_TAGS = ('DW_TAG_formal_parameter', 'DW_TAG_variable')


@dataclass
class Variable:
    name: str
    die: Any
    ctype: CType
    is_param: bool


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

    def labels(self, entry: int, func: str) -> List[Tuple[str, int]]:
        """The labels of func's out-of-line body at entry that kept an
        address (name, address), in its blocks too but not in what is
        inlined into it."""
        cu, sub = self._subprogram_at(entry, func)
        out: List[Tuple[str, int]] = []
        todo = [sub]
        while todo:
            for d in todo.pop().iter_children():
                if d.tag == 'DW_TAG_label':
                    pc = _attr(d, 'DW_AT_low_pc')
                    if pc is not None and _name(_origin(d)):
                        out.append((_name(_origin(d)), pc))
                elif d.tag == 'DW_TAG_lexical_block':
                    todo.append(d)
        return sorted(out, key=lambda x: x[1])

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

    def cfa(self) -> str:
        return self.file.cfa(self.pc)

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
        return compile_location(self, ops, what)


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
