# SPDX-License-Identifier: GPL-2.0
"""The tapset library: loading, alias variables that cost nothing, and the
syscall family made from the tree."""

from __future__ import annotations

from typing import List

from stapgen.diag import Source
from stapgen.frontend import nodes as n
from stapgen.frontend import parser, unparse

LIB = '''
function fmt:string (x:long) { return sprintf("%d", x) }
function noisy:long (x:long) { printf("side effect\\n"); return x }
probe fake.read = kernel.function("f") {
    fd = 3
    count = 7
    argstr = sprintf("%d, %s", fd, fmt(count))
    loud = noisy(1)
    if (fd > 2) note = "big"
}
'''


def expanded(text: str) -> List[str]:
    lib = parser.Library([parser.parse_unit(Source('lib.stp', LIB))], trusted=True)
    script = parser.parse(Source('t.stp', text), library=lib)
    return [unparse.script(n.Script([p], [], [])) for p in script.probes]


def test_unread_alias_variables_are_elided() -> None:
    body = expanded('probe fake.read { x = 1 }')[0]
    assert 'argstr' not in body and 'fd =' not in body and 'count' not in body
    assert 'note' not in body
    assert 'loud = noisy(1)' in body        # it prints: kept


def test_read_alias_variables_keep_what_they_use() -> None:
    body = expanded('probe fake.read { println(argstr) }')[0]
    assert 'fd = 3' in body and 'count = 7' in body and 'argstr =' in body
    assert 'note' not in body
    body = expanded('probe fake.read { println(count) }')[0]
    assert 'count = 7' in body and 'argstr' not in body and 'fd =' not in body
