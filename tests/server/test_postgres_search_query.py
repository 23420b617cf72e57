"""The search expression → tsquery builder of the PostgreSQL store (no database needed)."""

from __future__ import annotations

import pytest

from grove_explorer.server.store.postgres.search_query import (
    Operation,
    Phrase,
    parse_expression,
    phrases,
    quote_lexeme,
    render,
)


def test_precedence_is_fts5s_or_and_not_then_phrases_side_by_side() -> None:
    a, b, c = Phrase("a", False), Phrase("b", False), Phrase("c", True)
    assert parse_expression('"a" OR "b" "c"*') == Operation("OR", (a, Operation("LIST", (b, c))))
    assert parse_expression('"a" NOT "b" "c"*') == Operation("NOT", (a, Operation("LIST", (b, c))))
    assert parse_expression('"a" AND "b" NOT "c"*') == Operation(
        "AND", (a, Operation("NOT", (b, c)))
    )
    assert parse_expression("a NOT b NOT c*") == Operation("NOT", (Operation("NOT", (a, b)), c))
    assert parse_expression('("a" OR "b") "c"*') == Operation("LIST", (Operation("OR", (a, b)), c))
    assert parse_expression('"say ""hi"""').text == 'say "hi"'  # type: ignore[union-attr]


def test_words_are_quoted_lexemes_whatever_they_hold() -> None:
    assert quote_lexeme("it's") == "'it''s'"
    assert quote_lexeme("a\\b") == "'a\\\\b'"
    tree = parse_expression('"x y"* OR "z" NOT "w"')
    words = {
        Phrase("x y", True): [("it's", 1), ("b", 3)],
        Phrase("z", False): [("&|!", 1)],
        Phrase("w", False): [],
    }
    assert [p.text for p in phrases(tree)] == ["x y", "z", "w"]
    assert render(tree, words) == "(('it''s' <2> 'b':*) | '&|!')"


@pytest.mark.parametrize(
    "expression",
    ["", "   ", '"a" OR', "OR a", "(a", "a)", "NEAR(a b)", "col:a", "^a", "a AND AND b"],
)
def test_what_is_not_a_search_expression_is_refused_with_a_sentence(expression: str) -> None:
    with pytest.raises(ValueError, match=r"\w+ \w+"):
        parse_expression(expression)
