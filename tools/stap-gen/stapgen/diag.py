# SPDX-License-Identifier: GPL-2.0
"""Diagnostics in the style of a compiler.

Every error the tool reports about its input goes through here, so they
all look alike: `file:line:col: error: message`, the source line, a caret
under the offending token, and an optional hint.  Errors about the
environment (a tree that is not built, a missing .config option) have no
source position and print as `stap-gen: error: ...`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property
from typing import List, Optional


@dataclass(frozen=True)
class Source:
    """A script's text and the name it is reported under."""
    name: str
    text: str

    def line(self, lineno: int) -> str:
        lines = self.text.splitlines()
        return lines[lineno - 1] if 0 < lineno <= len(lines) else ''

    @cached_property
    def _line_starts(self) -> List[int]:
        return [0] + [i + 1 for i, c in enumerate(self.text) if c == '\n']

    def position(self, offset: int) -> 'Pos':
        line = bisect.bisect_right(self._line_starts, offset)
        col = offset - self._line_starts[line - 1] + 1
        return Pos(self, line, col)


@dataclass(frozen=True)
class Pos:
    source: Source = field(compare=False, repr=False)
    line: int
    col: int

    def __str__(self) -> str:
        return f'{self.source.name}:{self.line}:{self.col}'


@dataclass
class Diagnostic:
    message: str
    pos: Optional[Pos] = None
    hint: Optional[str] = None
    severity: str = 'error'
    width: int = 1

    def render(self) -> str:
        if self.pos is None:
            text = f'stap-gen: {self.severity}: {self.message}'
        else:
            src = self.pos.source.line(self.pos.line).expandtabs(1)
            caret = ' ' * (self.pos.col - 1) + '^' + '~' * max(0, self.width - 1)
            text = (f'{self.pos}: {self.severity}: {self.message}\n'
                    f'  {src}\n  {caret}')
        if self.hint:
            text += f'\nhint: {self.hint}'
        return text


class StapError(Exception):
    """One or more diagnostics that stop the translation."""

    def __init__(self, *diags: Diagnostic) -> None:
        super().__init__('\n'.join(d.render() for d in diags))
        self.diagnostics: List[Diagnostic] = list(diags)
        self.prelude = ''       # what to show before them (a compiler's own messages)


def error(message: str, pos: Optional[Pos] = None, hint: Optional[str] = None,
          width: int = 1) -> StapError:
    return StapError(Diagnostic(message, pos, hint, width=width))


def close_matches(word: str, candidates: List[str], n: int = 3) -> List[str]:
    import difflib
    return difflib.get_close_matches(word, candidates, n=n, cutoff=0.6)
