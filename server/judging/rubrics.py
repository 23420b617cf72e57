"""Named rubrics a judge scores against: the built-in "default" and `[rubrics]` of config.

    [rubrics]
    brevity = "Score 10 for a complete answer in three sentences or fewer, 0 for ..."

A rubric is the text the judge reads; its name is what requests, the form and the CLI
use. Bad entries stop the server at start with a sentence naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_RUBRIC_NAME = "default"
DEFAULT_RUBRIC = (
    "Judge the reply as an answer to the prompt on four criteria, equally weighted: "
    "helpfulness (does it do what was asked), correctness (are its claims true and its "
    "reasoning sound), clarity (is it easy to follow) and concision (no padding or "
    "repetition). 10 means an excellent answer on all four, one an expert would give; "
    "5 a usable answer with clear flaws; 0 an answer that is wrong, off-topic, empty or "
    "unreadable."
)
MAX_RUBRIC_NAME_CHARS = 64
MAX_RUBRIC_CHARS = 8_000


class RubricConfigError(ValueError):
    """A `[rubrics]` entry cannot be used; the message names it and why."""


def parse_rubrics(raw: object, source: str = "config") -> dict[str, str]:
    """The rubrics offered: "default" first, then the configured ones in file order.

    Raises RubricConfigError for a table that is not names to non-empty texts, a name
    that redefines "default", or a name or text over its size limit.
    """
    rubrics = {DEFAULT_RUBRIC_NAME: DEFAULT_RUBRIC}
    if not isinstance(raw, Mapping):
        raise RubricConfigError(f"{source}: [rubrics] must map rubric names to texts.")
    for name, text in raw.items():
        where = f"{source}: [rubrics] {name!r}"
        if not isinstance(name, str) or not name.strip():
            raise RubricConfigError(f"{source}: [rubrics] needs non-empty names.")
        if name == DEFAULT_RUBRIC_NAME:
            raise RubricConfigError(
                f"{where}: the built-in rubric cannot be redefined; give yours another name."
            )
        if len(name) > MAX_RUBRIC_NAME_CHARS:
            raise RubricConfigError(
                f"{where}: a name has at most {MAX_RUBRIC_NAME_CHARS} characters."
            )
        if not isinstance(text, str) or not text.strip():
            raise RubricConfigError(f"{where} must be a non-empty text.")
        if len(text) > MAX_RUBRIC_CHARS or "\x00" in text:
            raise RubricConfigError(
                f"{where}: a rubric has at most {MAX_RUBRIC_CHARS} characters and no NUL "
                f"(it has {len(text)})."
            )
        rubrics[name] = text.strip()
    return rubrics


def default_rubrics() -> dict[str, str]:
    """The rubrics of a server with no `[rubrics]` table: the built-in one."""
    return {DEFAULT_RUBRIC_NAME: DEFAULT_RUBRIC}
