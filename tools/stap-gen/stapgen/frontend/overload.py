# SPDX-License-Identifier: GPL-2.0
"""Functions overloaded by arity, as SystemTap allows them.

SystemTap lets a script or tapset define several functions of one name
that take different numbers of arguments (ansi_set_color(fg),
ansi_set_color(fg, bg), ansi_set_color(fg, bg, attr)), and a function
beside a built-in of the same name with another arity (a tapset's
user_string_n(addr, n, err_msg) beside the built-in user_string_n(addr, n)).
This pass runs once the tapsets are linked in: each definition of such a
name becomes NAME__N (N its arity), and each call goes to the one of its
own arity, or stays the built-in's.  A name defined with one arity only
is left alone, so the usual "'f' takes N argument(s), M given" still
applies to it.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Set

from . import nodes as n
from .semantic import BUILTINS
from ..diag import Diagnostic, StapError


def mangled(name: str, arity: int) -> str:
    """The name an overload of `name` taking `arity` arguments is known by."""
    return f'{name}__{arity}'


def _builtin_arities(name: str) -> Set[int]:
    b = BUILTINS.get(name)
    if b is None:
        return set()
    if b.varargs:
        return set(range(len(b.params), 64))
    return set(range(len(b.params) - b.optional, len(b.params) + 1))


def resolve(script: n.Script) -> n.Script:
    """Rename overloaded functions and their calls by arity (in place)."""
    arities: Dict[str, Set[int]] = {}
    for f in script.functions:
        arities.setdefault(f.name, set()).add(len(f.params))
    overloaded = {name for name, ar in arities.items()
                  if len(ar) > 1 or (_builtin_arities(name) - ar)}
    if not overloaded:
        return script
    errors: List[Diagnostic] = []
    # the definitions are the library's too (shared by every script a
    # pipeline parses): renamed copies, not renamed in place.  A call is
    # renamed where it is; once renamed it is no longer NAME, so a later
    # script's pass leaves it alone (and the library links NAME__N's file).
    script.functions = [dataclasses.replace(f, name=mangled(f.name, len(f.params)))
                        if f.name in overloaded else f for f in script.functions]

    for node in n.walk([script.probes, script.aliases, script.functions]):
        if isinstance(node, n.Call) and node.name in overloaded:
            k = len(node.args)
            if k in arities[node.name]:
                node.name = mangled(node.name, k)
            elif k not in _builtin_arities(node.name):
                takes = sorted(arities[node.name] | _builtin_arities(node.name))
                errors.append(Diagnostic(
                    f"no function {node.name} takes {k} argument(s)", node.pos,
                    hint=f"{node.name} takes {' or '.join(str(t) for t in takes)}"))
    if errors:
        raise StapError(*errors)
    return script
