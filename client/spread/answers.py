r"""The short answer a sample ends with, and the majority answer of a batch.

Many research prompts ask for a final short answer (a number, a name, yes/no) after some
reasoning; how many samples agree on it is the self-consistency vote. The answer is found,
in this order of precedence:

1. the last `\boxed{X}` (LaTeX convention of maths prompts);
2. the last "answer: X" / "answer is X" / "final answer = X" (to the end of its line);
3. the last non-empty line when it is short (at most `SHORT_WORDS` words);
4. the last number of the last line.

The last two only for a sample that ended on its own: the last line of a reply cut at
max_tokens (or stopped) is wherever the cut fell, not a conclusion.

Otherwise the sample has no short answer and is counted as such, never guessed.
Answers are compared normalised: case-folded, Markdown emphasis and surrounding
punctuation dropped, whitespace collapsed, and numbers written plainly ("1,000.0" and
"$1000" are both "1000").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

SHORT_WORDS = 6
"""A last line of at most this many words counts as the answer itself."""
MAX_ANSWER_CHARS = 80
"""An extracted answer longer than this is no short answer."""

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_MARKED = re.compile(
    r"(?:final\s+answer|answer)\s*(?:is|:|=|:=)\s*(?P<answer>[^\n]+)", re.IGNORECASE
)
_NUMBER = re.compile(r"[-+]?\$?\d[\d,]*(?:\.\d+)?%?")
_EMPHASIS = re.compile(r"[*_`]+")
_EDGES = " \t.,;:!?\"'()[]{}\u201c\u201d\u2018\u2019\u00ab\u00bb"


@dataclass(frozen=True, slots=True)
class AnswerTally:
    """Each sample's short answer and the vote among them.

    `answers[i]` is sample i's normalised answer, or None when it has none. `counts`
    lists (answer, how many samples) most common first; `majority` is the first of them
    ("" when no sample had an answer). `share` is the majority's count over the samples
    that had an answer; `without` counts those that had none.
    """

    answers: tuple[str | None, ...]
    counts: tuple[tuple[str, int], ...]
    majority: str
    majority_count: int
    answered: int
    without: int

    @property
    def share(self) -> float:
        """The majority's share of the answered samples (0.0 when none answered)."""
        return self.majority_count / self.answered if self.answered else 0.0

    @property
    def tied(self) -> bool:
        """True when another answer has as many votes as the majority."""
        return len(self.counts) > 1 and self.counts[1][1] == self.majority_count


def extract_answer(text: str, *, cut: bool = False) -> str | None:
    """The short final answer of `text`, normalised (None when it has none).

    `cut`: the text was cut short, so only an explicit answer (boxed, "answer:") counts.
    """
    raw = _raw_answer(text, cut)
    if raw is None:
        return None
    answer = normalise_answer(raw)
    return answer if answer and len(answer) <= MAX_ANSWER_CHARS else None


def _raw_answer(text: str, cut: bool) -> str | None:
    boxed = _BOXED.findall(text)
    if boxed:
        return str(boxed[-1])
    marked = list(_MARKED.finditer(text))
    if marked:
        return marked[-1].group("answer")
    lines = [line for line in text.splitlines() if line.strip()]
    if cut or not lines:
        return None
    last = lines[-1]
    if len(last.split()) <= SHORT_WORDS:
        return last
    numbers = _NUMBER.findall(last)
    return numbers[-1] if numbers else None


def normalise_answer(raw: str) -> str:
    """`raw` as answers are compared: plain, case-folded, numbers without grouping."""
    text = _EMPHASIS.sub("", raw)
    text = re.sub(r"^\s*(?:[-•>]|\d+[.)])\s+", "", text)  # a list bullet or quote mark
    text = " ".join(text.split()).strip(_EDGES).casefold()
    if _NUMBER.fullmatch(text):
        text = _plain_number(text)
    return text


def _plain_number(text: str) -> str:
    """A number written plainly: "$1,000.50" → "1000.5", "+3.0" → "3", "12%" stays."""
    percent = text.endswith("%")
    digits = text.rstrip("%").replace("$", "").replace(",", "").lstrip("+")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    if digits in ("-0", ""):
        digits = "0"
    return digits + ("%" if percent else "")


def tally_answers(texts: Sequence[str], cut: Sequence[bool] = ()) -> AnswerTally:
    """Extracts every sample's answer and counts the votes (ties: first seen first).

    `cut[i]` says sample i was cut short (see `extract_answer`); none are by default.
    """
    flags = list(cut) or [False] * len(texts)
    answers = tuple(extract_answer(text, cut=flag) for text, flag in zip(texts, flags, strict=True))
    given = [a for a in answers if a is not None]
    counts = tuple(Counter(given).most_common())
    majority, majority_count = counts[0] if counts else ("", 0)
    return AnswerTally(
        answers=answers,
        counts=counts,
        majority=majority,
        majority_count=majority_count,
        answered=len(given),
        without=len(answers) - len(given),
    )
