"""The expression language's syntax: tokens and the tree they parse into.

One language for the live filter (``/``) and for rule conditions::

    expr      := or
    or        := and ("or" and)*
    and       := unary (["and"] unary)*        adjacent terms: all must hold
    unary     := "not" unary | "(" expr ")" | condition | glob
    condition := FIELD OP value | FIELD "exists" | "cat:"NAME
    value     := WORD | "quoted text" | "(" value ("," value)* ")"

A bare word is a glob on the event name; globs next to each other mean any of them
(``socket.* open``).  ``path~/etc`` (contains), ``mode=w``, ``risk>=notice`` may be
written without spaces, as the filter always allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

#: Word operators, as Falco names them; symbols are in ``_SYMBOLS``.
WORD_OPERATORS = frozenset(
    {
        "contains",
        "icontains",
        "startswith",
        "endswith",
        "glob",
        "iglob",
        "pmatch",
        "regex",
        "in",
        "exists",
    }
)
_SYMBOLS = ("==", "!=", "<=", ">=", "=", "~", "<", ">", "&")
KEYWORDS = frozenset({"and", "or", "not"})
_FIELD = re.compile(r"[A-Za-z_][\w.]*(\[\d+\])?$")


class QuerySyntaxError(ValueError):
    """A malformed expression; ``column`` counts from 1."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.reason = message
        self.column = column


@dataclass(frozen=True)
class Token:
    kind: str  # word, quoted, op, lparen, rparen, comma, end
    text: str
    column: int


def tokenize(text: str) -> list[Token]:
    """Words, quoted strings, operators, parentheses and commas, with their columns."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(Token("lparen" if c == "(" else "rparen", c, i + 1))
            i += 1
        elif c == ",":
            tokens.append(Token("comma", c, i + 1))
            i += 1
        elif c in "\"'":
            start = i
            value, i = _quoted(text, i)
            tokens.append(Token("quoted", value, start + 1))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in "()\",'":
                i += 1
            tokens.extend(_split_word(text[start:i], start + 1))
    tokens.append(Token("end", "", n + 1))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote, i, out = text[start], start + 1, []
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif c == quote:
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise QuerySyntaxError("unterminated quoted text", start + 1)


def _split_word(word: str, column: int) -> list[Token]:
    """``path~/etc`` → field, operator, value; a word that is an operator stays one."""
    if word in _SYMBOLS:
        return [Token("op", word, column)]
    found = [(word.find(s), s) for s in _SYMBOLS if word.find(s) > 0]
    if found:
        where = min(w for w, _ in found)
        symbol = max((s for w, s in found if w == where), key=len)  # ">=" before ">"
        field = word[:where]
        if _FIELD.match(field) and word[where : where + len(symbol)] == symbol:
            rest = word[where + len(symbol) :]
            out = [Token("word", field, column), Token("op", symbol, column + where)]
            if rest:
                out.append(Token("word", rest, column + where + len(symbol)))
            return out
    return [Token("word", word, column)]


# -- the tree -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Glob:
    """Any of these globs matches the event name; ``columns``, where given, says where
    each pattern stands."""

    patterns: tuple[str, ...]
    column: int
    columns: tuple[int, ...] = ()

    def where(self) -> tuple[int, ...]:
        """The column of each pattern."""
        return self.columns or (self.column,) * len(self.patterns)


@dataclass(frozen=True)
class Condition:
    """``field op value``; ``value`` is a tuple for list operators, None for exists."""

    field: str
    op: str
    value: str | tuple[str, ...] | None
    column: int


@dataclass(frozen=True)
class Not:
    term: Node


@dataclass(frozen=True)
class Named:
    """A macro's condition where the macro was used: judged once per event, however
    many rules use it (see ``compile``)."""

    name: str
    term: Node


@dataclass(frozen=True)
class AllOf:
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    terms: tuple[Node, ...]


Node = Union[Glob, Condition, Not, Named, AllOf, AnyOf]


class Parser:
    """Recursive descent over ``tokenize``'s tokens."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0

    def parse(self) -> Node | None:
        if self.peek().kind == "end":
            return None
        node = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            raise QuerySyntaxError(f"unexpected {token.text!r}", token.column)
        return node

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text == word

    def or_expr(self) -> Node:
        terms = [self.and_expr()]
        while self.keyword("or"):
            self.take()
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else AnyOf(tuple(terms))

    def and_expr(self) -> Node:
        # Terms side by side form a segment, where bare globs mean any of them; an
        # explicit "and" starts a new segment: ``open_read and secret_file`` (macros,
        # in rules) are two terms that must both hold.
        segments: list[list[Node]] = [[self.unary()]]
        while True:
            token = self.peek()
            if token.kind in ("end", "rparen") or self.keyword("or"):
                break
            if self.keyword("and"):
                self.take()
                segments.append([])
            segments[-1].append(self.unary())
        terms = [t for segment in segments for t in _merge_globs(segment)]
        return terms[0] if len(terms) == 1 else AllOf(tuple(terms))

    def unary(self) -> Node:
        token = self.peek()
        if self.keyword("not"):
            self.take()
            return Not(self.unary())
        if token.kind == "lparen":
            self.take()
            inner = self.or_expr()
            if self.peek().kind != "rparen":
                raise QuerySyntaxError("a '(' is not closed", token.column)
            self.take()
            return inner
        if token.kind == "quoted":
            self.take()
            return Glob((token.text,), token.column)
        if token.kind != "word" or token.text in KEYWORDS:
            if token.kind == "end":
                raise QuerySyntaxError(
                    "the expression ends where a term should follow", token.column
                )
            raise QuerySyntaxError(f"expected a term, found {token.text!r}", token.column)
        return self.condition()

    def condition(self) -> Node:
        token = self.take()
        if token.text.startswith("cat:") and self.peek().kind != "op":
            return Condition("category", "=", token.text[4:], token.column)
        following = self.peek()
        if following.kind == "op":
            self.take()
            value = self.value(following)
            return Condition(token.text, following.text, value, token.column)
        if following.kind == "word" and following.text in WORD_OPERATORS:
            self.take()
            if following.text == "exists":
                return Condition(token.text, "exists", None, token.column)
            value = self.value(following)
            return Condition(token.text, following.text, value, token.column)
        return Glob((token.text,), token.column)

    def value(self, operator: Token) -> str | tuple[str, ...]:
        token = self.peek()
        if token.kind == "lparen":
            return self.value_list()
        if token.kind in ("word", "quoted"):
            self.take()
            return token.text
        raise QuerySyntaxError(f"{operator.text!r} needs a value", operator.column)

    def value_list(self) -> tuple[str, ...]:
        opening = self.take()
        items: list[str] = []
        while True:
            token = self.peek()
            if token.kind == "rparen" and not items:
                self.take()
                return ()
            if token.kind not in ("word", "quoted"):
                raise QuerySyntaxError("a list holds values separated by commas", token.column)
            items.append(self.take().text)
            token = self.take()
            if token.kind == "rparen":
                return tuple(items)
            if token.kind != "comma":
                raise QuerySyntaxError("a '(' list is not closed", opening.column)


def _merge_globs(terms: list[Node]) -> list[Node]:
    """Bare globs among terms side by side mean any of them (``socket.* open``): they
    become one term, where the first of them stood."""
    globs = [t for t in terms if isinstance(t, Glob)]
    if len(globs) > 1:
        merged = Glob(
            tuple(p for g in globs for p in g.patterns),
            globs[0].column,
            tuple(c for g in globs for c in g.where()),
        )
        first = terms.index(globs[0])
        terms = [merged if i == first else t for i, t in enumerate(terms) if t not in globs[1:]]
    return terms


def parse_tree(text: str) -> Node | None:
    """The tree of ``text``, or None when it is empty; QuerySyntaxError if malformed."""
    return Parser(text).parse()
