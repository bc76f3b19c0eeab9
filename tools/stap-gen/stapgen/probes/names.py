# SPDX-License-Identifier: GPL-2.0
"""Patterns in probe point arguments: globs and {a,b} alternatives."""

from __future__ import annotations

import re
from typing import List

from ..frontend import nodes as n

WILD = re.compile(r'[*?\[]')


def expand_braces(pattern: str) -> List[str]:
    m = re.search(r'\{([^{}]*)\}', pattern)
    if not m:
        return [pattern]
    out = []
    for alt in m.group(1).split(','):
        out.extend(expand_braces(pattern[:m.start()] + alt + pattern[m.end():]))
    return out


def plain_function_names(script: n.Script) -> List[str]:
    """The function names kernel.function points name without a wildcard:
    what a resolution will ask the DWARF about first."""
    out: List[str] = []
    for probe in script.probes:
        for pp in probe.points:
            c = pp.components
            if len(c) >= 2 and c[0].name == 'kernel' and c[1].name == 'function' and \
                    isinstance(c[1].arg, str):
                name = c[1].arg.partition('@')[0]
                if name and not WILD.search(name) and '{' not in name and name not in out:
                    out.append(name)
    return out
