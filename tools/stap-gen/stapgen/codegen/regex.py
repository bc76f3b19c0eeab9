# SPDX-License-Identifier: GPL-2.0
"""Regular expressions of `s =~ "RE"` and `s !~ "RE"`, compiled when the
script is translated.

The dialect is SystemTap's: POSIX extended regular expressions over the
bytes of a string.  Literal characters (a backslash makes any character
literal), `.` (any byte), bracket expressions `[a-z]`, `[^...]` with
the classes `[:alpha:]` and the like, `*`, `+`, `?`, `{m}`, `{m,}`,
`{m,n}`, `|`, groups `(...)`, and the anchors `^` and `$`, which hold at
the start and the end of the string only.  Without them a match may be
anywhere in the string.

A regular expression becomes a program for the run time's matcher
(kernel-templates/common/runtime/regex.h), a Thompson NFA it simulates the
way a Pike VM does, so that a match takes linear time and bounded memory:

    BYTE lo hi    read one byte in lo..hi
    CLASS x       read one byte of the set classes[x] (256 bits)
    SPLIT x y     go on at x and at y
    JMP x         go on at x
    BOL / EOL     only at the start / at the end of the string
    MATCH         the string matches

Program.matches() is the matcher in Python, step for step; the tests check
the compiler with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple, Union

from ..diag import Pos, StapError, close_matches, error
from ..frontend import nodes as n
from ..frontend.lexer import decode_string

MAX_INSNS = 256         # the run time's STP_RE_MAXINSNS
MAX_REPEAT = 255        # POSIX's RE_DUP_MAX
MAX_DEPTH = 64          # groups inside groups

DOT = ((1 << 256) - 1) & ~1     # every byte but NUL, which ends a string


def _bits(pred: Callable[[int], bool]) -> int:
    return sum(1 << b for b in range(128) if pred(b))


CLASSES = {
    'alnum': _bits(lambda b: chr(b).isalnum()),
    'alpha': _bits(lambda b: chr(b).isalpha()),
    'blank': _bits(lambda b: chr(b) in ' \t'),
    'cntrl': _bits(lambda b: b < 32 or b == 127),
    'digit': _bits(lambda b: chr(b).isdigit()),
    'graph': _bits(lambda b: 33 <= b <= 126),
    'lower': _bits(lambda b: chr(b).islower()),
    'print': _bits(lambda b: 32 <= b <= 126),
    'punct': _bits(lambda b: 33 <= b <= 126 and not chr(b).isalnum()),
    'space': _bits(lambda b: chr(b) in ' \t\n\r\f\v'),
    'upper': _bits(lambda b: chr(b).isupper()),
    'xdigit': _bits(lambda b: chr(b) in '0123456789abcdefABCDEF'),
}
_CLASS_NAMES = ', '.join(f'[:{c}:]' for c in CLASSES)


# -- the parsed regular expression -------------------------------------------------

@dataclass
class Bytes:
    """One byte of a set (a 256-bit map)."""
    bits: int


@dataclass
class Cat:
    items: List['Node']


@dataclass
class Alt:
    items: List['Node']


@dataclass
class Repeat:
    node: 'Node'
    lo: int
    hi: Optional[int]       # None: no upper bound


@dataclass
class Anchor:
    op: str                 # 'BOL' or 'EOL'


Node = Union[Bytes, Cat, Alt, Repeat, Anchor]


# -- the program -------------------------------------------------------------------

@dataclass
class Insn:
    op: str
    lo: int = 0
    hi: int = 0
    x: int = 0
    y: int = 0

    def text(self) -> str:
        """The instruction as a C comment shows it."""
        if self.op == 'BYTE':
            return _byte(self.lo) if self.lo == self.hi else f'{_byte(self.lo)}-{_byte(self.hi)}'
        if self.op == 'CLASS':
            return f'class {self.x}'
        if self.op == 'SPLIT':
            return f'split {self.x}, {self.y}'
        if self.op == 'JMP':
            return f'jmp {self.x}'
        return {'BOL': '^', 'EOL': '$', 'MATCH': 'match'}[self.op]


def _byte(b: int) -> str:
    c = chr(b)
    return f"'{c}'" if 32 <= b < 127 and c not in '\'\\/*' else f'0x{b:02x}'


@dataclass
class Program:
    pattern: str
    insns: List[Insn] = field(default_factory=list)
    classes: List[int] = field(default_factory=list)    # 256-bit maps

    def class_words(self, i: int) -> List[int]:
        """Set i as the run time stores it: four 64-bit words, byte b in bit
        b & 63 of word b >> 6."""
        return [(self.classes[i] >> (64 * w)) & ((1 << 64) - 1) for w in range(4)]

    def matches(self, data: bytes, maxlen: int = 256) -> bool:
        """What stp_regex_match() answers for the string data (its bytes up to
        the first NUL, at most maxlen - 1 of them: MAXSTRINGLEN's)."""
        prog = self.insns

        def push(lst: List[int], pc: int) -> None:
            if pc < len(prog) and pc not in lst:
                lst.append(pc)

        def add(lst: List[int], pc: int, bol: bool, eol: bool) -> bool:
            i = len(lst)
            push(lst, pc)
            while i < len(lst):
                insn = prog[lst[i]]
                if insn.op == 'SPLIT':
                    push(lst, insn.x)
                    push(lst, insn.y)
                elif insn.op == 'JMP':
                    push(lst, insn.x)
                elif (insn.op == 'BOL' and bol) or (insn.op == 'EOL' and eol):
                    push(lst, lst[i] + 1)
                elif insn.op == 'MATCH':
                    return True
                i += 1
            return False

        def at_end(i: int) -> bool:
            return i >= maxlen - 1 or i >= len(data) or data[i] == 0

        def reads(insn: Insn, ch: int) -> bool:
            if insn.op == 'BYTE':
                return insn.lo <= ch <= insn.hi
            return insn.op == 'CLASS' and bool(self.classes[insn.x] >> ch & 1)

        cur: List[int] = []
        i = 0
        while True:
            end = at_end(i)
            if add(cur, 0, i == 0, end):
                return True
            if end:
                return False
            nxt: List[int] = []
            for pc in cur:
                if reads(prog[pc], data[i]) and add(nxt, pc + 1, False, at_end(i + 1)):
                    return True
            cur = nxt
            i += 1


# -- parsing -----------------------------------------------------------------------

Locate = Callable[[int], Optional[Pos]]


class _Parser:
    def __init__(self, text: str, locate: Locate) -> None:
        self.s = text
        self.i = 0
        self.at = locate
        self.depth = 0

    def peek(self, k: int = 0) -> str:
        return self.s[self.i + k] if self.i + k < len(self.s) else ''

    def parse(self) -> Node:
        node = self.expr()
        if self.i < len(self.s):        # expr stops only at a ')' no '(' opened
            raise error("regular expression: unbalanced ')'", self.at(self.i),
                        hint="to match a ')', write [)]")
        return node

    def expr(self) -> Node:
        items = [self.branch()]
        while self.peek() == '|':
            self.i += 1
            items.append(self.branch())
        return items[0] if len(items) == 1 else Alt(items)

    def branch(self) -> Node:
        items: List[Node] = []
        while self.peek() not in ('', '|', ')'):
            items.append(self.piece())
        return items[0] if len(items) == 1 else Cat(items)

    def piece(self) -> Node:
        anchor = self.peek() in ('^', '$')      # (^)* is allowed, ^* is not
        node = self.atom()
        depth = self.depth      # the repetitions of this atom nest too
        while self.peek() in ('*', '+', '?', '{'):
            ch, where = self.peek(), self.i
            if anchor:
                raise error(f"regular expression: '{ch}' cannot repeat an anchor (^ or $)",
                            self.at(where))
            if ch == '{':
                lo, hi = self.braces()
            else:
                self.i += 1
                lo, hi = {'*': (0, None), '+': (1, None), '?': (0, 1)}[ch]
            node = Repeat(node, lo, hi)
            self.nest(where)
        self.depth = depth
        return node

    def nest(self, where: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise error(f'regular expression: nests more than {MAX_DEPTH} deep',
                        self.at(where), hint='groups and repetitions count')

    def atom(self) -> Node:
        ch, where = self.peek(), self.i
        if ch in ('*', '+', '?', '{'):
            raise error(f"regular expression: '{ch}' repeats nothing", self.at(where),
                        hint=f"to match a '{ch}', write [{ch}]")
        self.i += 1
        if ch == '(':
            self.nest(where)
            node = self.expr()
            if self.peek() != ')':
                raise error("regular expression: unbalanced '('", self.at(where),
                            hint="close the group with ')'; to match a '(', write [(]")
            self.i += 1
            self.depth -= 1
            return node
        if ch == '[':
            return self.bracket(where)
        if ch == '.':
            return Bytes(DOT)
        if ch == '^':
            return Anchor('BOL')
        if ch == '$':
            return Anchor('EOL')
        if ch == '\\':
            ch = self.escaped(where)
        return _literal(ch)

    def escaped(self, where: int) -> str:
        """The character a backslash at where makes literal."""
        if self.i >= len(self.s):
            raise error('regular expression: trailing backslash', self.at(where),
                        hint='a backslash makes the next character literal; '
                             r'"\\\\" in a script is the regular expression \\, '
                             'which matches one backslash')
        self.i += 1
        return self.s[self.i - 1]

    def number(self) -> Optional[int]:
        start = self.i
        while self.peek() != '' and self.peek() in '0123456789':
            self.i += 1
        return int(self.s[start:self.i]) if self.i > start else None

    def braces(self) -> Tuple[int, Optional[int]]:
        where = self.i
        self.i += 1
        lo = self.number()
        hi = lo
        if lo is not None and self.peek() == ',':
            self.i += 1
            hi = self.number()
        if lo is None or self.peek() != '}':
            raise error('regular expression: a repetition is written {m}, {m,} or {m,n}',
                        self.at(where), hint="to match a '{', write [{]")
        self.i += 1
        if hi is not None and hi < lo:
            raise error(f'regular expression: repetition {{{lo},{hi}}} has its minimum '
                        'above its maximum', self.at(where))
        if max(lo, hi or 0) > MAX_REPEAT:
            raise error(f'regular expression: repetition count {max(lo, hi or 0)} is more '
                        f'than {MAX_REPEAT}', self.at(where))
        return lo, hi

    def bracket(self, where: int) -> Node:
        neg = self.peek() == '^'
        if neg:
            self.i += 1
        bits = 0
        first = True            # a ']' first is a member
        while True:
            if self.i >= len(self.s):
                raise error('regular expression: unterminated bracket expression',
                            self.at(where),
                            hint="a ']' right after '[' or '[^' is a member of the set; "
                                 "another ']' ends it")
            if self.peek() == ']' and not first:
                self.i += 1
                break
            first = False
            item_at = self.i
            lo = self.member()
            ranged = self.peek() == '-' and self.peek(1) not in ('', ']')
            if isinstance(lo, tuple):       # a class
                if ranged:
                    raise error('regular expression: a character class cannot be part '
                                'of a range', self.at(item_at))
                bits |= lo[0]
                continue
            if not ranged:
                bits |= 1 << lo
                continue
            self.i += 1
            hi = self.member()
            if isinstance(hi, tuple):
                raise error('regular expression: a character class cannot be part '
                            'of a range', self.at(item_at))
            if hi < lo:
                raise error(f"regular expression: range '{chr(lo)}-{chr(hi)}' is out of "
                            'order', self.at(item_at))
            bits |= ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1)
        return Bytes(DOT & ~bits if neg else bits)

    def member(self) -> Union[int, Tuple[int]]:
        """One byte of a bracket expression, or a class (as a 1-tuple)."""
        where = self.i
        if self.peek() == '[' and self.peek(1) == ':':
            end = self.s.find(':]', self.i + 2)
            name = self.s[self.i + 2:end] if end >= 0 else ''
            if name not in CLASSES:
                shown = self.s[self.i:end + 2] if end >= 0 else '[:'
                near = close_matches(name, list(CLASSES), 1) if name else []
                guess = f'did you mean [:{near[0]}:]? ' if near else ''
                raise error(f"regular expression: unknown character class '{shown}'",
                            self.at(where), hint=f'{guess}the classes are {_CLASS_NAMES}')
            self.i = end + 2
            return (CLASSES[name],)
        ch = self.peek()
        self.i += 1
        if ch == '\\':
            ch = self.escaped(where)
        if ord(ch) > 127:
            raise error('regular expression: non-ASCII character in a bracket expression',
                        self.at(where),
                        hint='a bracket expression matches one byte; write the character '
                             'outside brackets (as its UTF-8 bytes)')
        return ord(ch)


def _literal(ch: str) -> Node:
    """A character as itself: its UTF-8 bytes, as the module's C strings hold it."""
    data = ch.encode('utf-8', 'surrogateescape')
    if len(data) == 1:
        return Bytes(1 << data[0])
    return Cat([Bytes(1 << b) for b in data])


# -- code generation ---------------------------------------------------------------

def size(node: Node) -> int:
    """The instructions node compiles to."""
    if isinstance(node, (Bytes, Anchor)):
        return 1
    if isinstance(node, Cat):
        return sum(size(x) for x in node.items)
    if isinstance(node, Alt):
        return sum(size(x) for x in node.items) + 2 * (len(node.items) - 1)
    s = size(node.node)
    if s == 0:
        return 0
    if node.hi is None:
        return s + 2 if node.lo == 0 else node.lo * s + 1
    return node.lo * s + (node.hi - node.lo) * (s + 1)


class _Emitter:
    def __init__(self, prog: Program) -> None:
        self.prog = prog

    def emit(self, op: str, **kw: int) -> Insn:
        insn = Insn(op, **kw)
        self.prog.insns.append(insn)
        return insn

    @property
    def here(self) -> int:
        return len(self.prog.insns)

    def gen(self, node: Node) -> None:
        if isinstance(node, Bytes):
            self.byte_set(node.bits)
        elif isinstance(node, Anchor):
            self.emit(node.op)
        elif isinstance(node, Cat):
            for x in node.items:
                self.gen(x)
        elif isinstance(node, Alt):
            jumps = []
            for x in node.items[:-1]:
                split = self.emit('SPLIT', x=self.here + 1)
                self.gen(x)
                jumps.append(self.emit('JMP'))
                split.y = self.here
            self.gen(node.items[-1])
            for j in jumps:
                j.x = self.here
        else:
            self.repeat(node)

    def repeat(self, node: Repeat) -> None:
        if size(node.node) == 0:
            return                      # ()*, (^|)... : nothing to repeat
        if node.hi is None and node.lo == 0:            # x*
            top = self.here
            split = self.emit('SPLIT', x=top + 1)
            self.gen(node.node)
            self.emit('JMP', x=top)
            split.y = self.here
            return
        for _ in range(node.lo - (1 if node.hi is None else 0)):
            self.gen(node.node)
        if node.hi is None:                             # the last copy, again and again
            top = self.here
            self.gen(node.node)
            self.emit('SPLIT', x=top, y=self.here + 1)
            return
        splits = []
        for _ in range(node.hi - node.lo):              # x{0,k}: x? nested k deep
            splits.append(self.emit('SPLIT', x=self.here + 1))
            self.gen(node.node)
        for s in splits:
            s.y = self.here

    def byte_set(self, bits: int) -> None:
        lo = (bits & -bits).bit_length() - 1 if bits else 1
        hi = bits.bit_length() - 1 if bits else 0
        if bits and bits == ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1):
            self.emit('BYTE', lo=lo, hi=hi)
            return
        if bits not in self.prog.classes:
            self.prog.classes.append(bits)
        self.emit('CLASS', x=self.prog.classes.index(bits))


def compile(pattern: str, locate: Optional[Locate] = None) -> Program:
    """pattern's program; locate gives the script position of pattern[i]
    for messages (None: no position)."""
    at: Locate = locate or (lambda i: None)
    tree = _Parser(pattern, at).parse()
    if size(tree) + 1 > MAX_INSNS:
        raise error(f'regular expression: more than {MAX_INSNS} instructions', at(0),
                    hint='a repetition {m,n} copies what it repeats: use smaller counts, '
                         'or test with several =~')
    prog = Program(pattern)
    _Emitter(prog).gen(tree)
    prog.insns.append(Insn('MATCH'))
    assert len(prog.insns) == size(tree) + 1
    return prog


def compile_literal(lit: n.String) -> Program:
    """The program of the string literal on the right of =~ or !~."""
    return compile(lit.value, _locator(lit))


def _locator(lit: n.String) -> Locate:
    """Where each character of lit's value was written, when the literal's
    text can be read back from its source; else the literal itself."""
    pos = lit.pos
    text = pos.source.text
    lines = text.split('\n')
    off = sum(len(x) + 1 for x in lines[:pos.line - 1]) + pos.col - 1
    end = off + 1
    while end < len(text) and text[end] not in '"\n':
        end += 2 if text[end] == '\\' else 1
    if text[off:off + 1] != '"' or text[end:end + 1] != '"':
        return lambda i: pos
    try:
        value, where = decode_string(text[off + 1:end], pos.source, off + 1)
    except StapError:
        return lambda i: pos
    if not lit.value.startswith(value):
        return lambda i: pos

    def locate(i: int) -> Pos:
        # (a literal joined to the next: the first one's characters only)
        return pos.source.position(off + 1 + where[i]) if i < len(where) else pos
    return locate
