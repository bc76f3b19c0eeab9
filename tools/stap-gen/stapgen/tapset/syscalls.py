# SPDX-License-Identifier: GPL-2.0
"""syscall.NAME, made from the tree's syscall table and DWARF."""

from __future__ import annotations

from typing import Any, Dict, List, Set

from ..frontend import nodes as n


class Generator:
    def __init__(self, pipe: Any, macros: Dict[str, Any]) -> None:
        self.pipe = pipe
        self.macros = macros

    def units(self, wanted: Set[str]) -> List[n.Script]:
        return []
