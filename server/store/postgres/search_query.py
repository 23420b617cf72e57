"""The store's search expressions (FTS5's syntax) as PostgreSQL tsqueries, built safely.

The servicer hands both stores the same expression (server/search.py makes it): quoted
phrases, `"prefix"*`, barewords, `AND`, `OR`, `NOT` and parentheses. FTS5 reads it with
this precedence, loosest first: OR, AND, NOT, then phrases side by side (an implicit AND
that binds tighter than NOT: `a NOT b c` is `a NOT (b c)`). This module parses it into a
tree with the same precedence and renders a tsquery from it, never passing user text to
`to_tsquery`: each phrase's words are cut by the database's own `grove_search_document`
(the index's function, see search_schema.py) and written as quoted lexemes, so nothing a
user types is tsquery syntax.

A phrase without words (`"!!!"`) behaves as in FTS5: left out of a list of phrases and of
an OR, the left side of a NOT without words is ignored, an AND with one matches nothing,
and an expression with nothing left matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

_TOKEN = re.compile(r'\s*(?:"((?:[^"]|"")*)"(\*?)|(\()|(\))|([^\s"()*]+)(\*?))')
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_UNSUPPORTED = frozenset({"NEAR"})


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must follow each other; `prefix`: the last one is a prefix."""

    text: str
    prefix: bool


@dataclass(frozen=True, slots=True)
class Operation:
    """`operator` ("AND", "OR", "NOT" or "LIST", the implicit AND) over `operands`."""

    operator: str
    operands: tuple[Node, ...]


Node = Phrase | Operation
Lexemes = Sequence[tuple[str, int]]
"""The words of a phrase as the index cut them: (lexeme, position), in position order."""


def parse_expression(expression: str) -> Node:
    """The tree of an FTS5 expression; ValueError with a sentence when it is not one."""
    tokens = _tokens(expression)
    if not tokens:
        raise ValueError("the search expression is empty")
    parser = _Parser(tokens)
    node = parser.or_expression()
    if parser.position != len(tokens):
        left = tokens[parser.position]
        shown = _shown(left if isinstance(left, str) else left.text)
        raise ValueError(f"unexpected {shown} in the search expression")
    return node


def phrases(node: Node) -> list[Phrase]:
    """Every phrase of the tree, left to right (what the database must cut into words)."""
    if isinstance(node, Phrase):
        return [node]
    found: list[Phrase] = []
    for operand in node.operands:
        found.extend(phrases(operand))
    return found


def render(node: Node, words: Mapping[Phrase, Lexemes]) -> str | None:
    """The tsquery text of the tree, given each phrase's words; None: matches nothing."""
    if isinstance(node, Phrase):
        return _phrase_query(words.get(node, ()), node.prefix)
    parts = [render(operand, words) for operand in node.operands]
    if node.operator == "NOT":
        left, right = parts
        if left is None:
            return None
        return left if right is None else f"({left} & !({right}))"
    if node.operator == "AND" and any(part is None for part in parts):
        return None
    kept = [part for part in parts if part is not None]
    if not kept:
        return None
    joint = " | " if node.operator == "OR" else " & "
    return kept[0] if len(kept) == 1 else "(" + joint.join(kept) + ")"


def quote_lexeme(lexeme: str) -> str:
    """A lexeme as a quoted tsquery operand: nothing in it is syntax."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _phrase_query(lexemes: Lexemes, prefix: bool) -> str | None:
    """`'a' <-> 'b'` for the words of a phrase (`<N>` across a gap), the last `:*` if prefix."""
    if not lexemes:
        return None
    ordered = sorted(lexemes, key=lambda item: item[1])
    query = ""
    previous = 0
    for index, (lexeme, position) in enumerate(ordered):
        operand = quote_lexeme(lexeme)
        if prefix and index == len(ordered) - 1:
            operand += ":*"
        if index == 0:
            query = operand
        else:
            distance = max(0, position - previous)
            link = " <-> " if distance == 1 else f" <{distance}> "
            query = f"{query}{link}{operand}"
        previous = position
    return f"({query})" if len(ordered) > 1 else query


def _shown(token: str) -> str:
    return repr(token if len(token) <= 40 else token[:40] + "…")


def _tokens(expression: str) -> list[str | Phrase]:
    """Operators and parentheses as strings, phrases and barewords as `Phrase`s."""
    tokens: list[str | Phrase] = []
    position = 0
    while position < len(expression):
        if expression[position:].strip() == "":
            break
        found = _TOKEN.match(expression, position)
        if found is None or found.end() == position:
            rest = expression[position:].strip()
            raise ValueError(f"the search expression cannot be read at {_shown(rest)}")
        quoted, quoted_star, opening, closing, bare, bare_star = found.groups()
        if quoted is not None:
            tokens.append(Phrase(quoted.replace('""', '"'), bool(quoted_star)))
        elif opening or closing:
            tokens.append(opening or closing)
        elif bare in _OPERATORS and not bare_star:
            tokens.append(bare)
        elif bare in _UNSUPPORTED or ":" in bare or bare.startswith(("^", "+", "-")):
            raise ValueError(f"{_shown(bare)} is FTS5 syntax the search does not support")
        else:
            tokens.append(Phrase(bare, bool(bare_star)))
        position = found.end()
    return tokens


class _Parser:
    """Recursive descent over the tokens, loosest operator first (see the module)."""

    def __init__(self, tokens: list[str | Phrase]) -> None:
        self.tokens = tokens
        self.position = 0

    def _peek(self) -> str | Phrase | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _binary(self, operator: str, parse: Callable[[], Node]) -> Node:
        operands = [parse()]
        while self._peek() == operator:
            self.position += 1
            operands.append(parse())
        if len(operands) == 1:
            return operands[0]
        if operator == "NOT":  # left-associative: ((a NOT b) NOT c)
            node: Node = operands[0]
            for right in operands[1:]:
                node = Operation("NOT", (node, right))
            return node
        return Operation(operator, tuple(operands))

    def or_expression(self) -> Node:
        return self._binary("OR", self.and_expression)

    def and_expression(self) -> Node:
        return self._binary("AND", self.not_expression)

    def not_expression(self) -> Node:
        return self._binary("NOT", self.listing)

    def listing(self) -> Node:
        operands = [self._primary()]
        while isinstance(self._peek(), Phrase) or self._peek() == "(":
            operands.append(self._primary())
        return operands[0] if len(operands) == 1 else Operation("LIST", tuple(operands))

    def _primary(self) -> Node:
        token = self._peek()
        if token is None:
            raise ValueError("the search expression ends where a word was expected")
        self.position += 1
        if isinstance(token, Phrase):
            return token
        if token == "(":
            node = self.or_expression()
            if self._peek() != ")":
                raise ValueError("a parenthesis of the search expression is not closed")
            self.position += 1
            return node
        raise ValueError(f"{_shown(token)} needs a word or phrase on each side")
