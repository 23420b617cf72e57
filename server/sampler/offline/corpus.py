"""The offline model's training text: corpus files, their tokens, and content-word stems."""

from __future__ import annotations

import re
from pathlib import Path

CORPUS_DIR = Path(__file__).parent.parent / "corpus"

BOS = "<s>"
END = "</s>"
BULLET = "\n-"
PARAGRAPH_BREAK = "\n\n"
SENTENCE_ENDS = frozenset({".", "!", "?"})
NO_SPACE_BEFORE = frozenset({",", ".", ";", ":", "!", "?"})

# Corpus tokens: a bold span or code span is one token (so markdown stays balanced), then
# words with inner apostrophes/hyphens, then punctuation.
CORPUS_TOKEN_RE = re.compile(
    r"\*\*[^*\n]+\*\*|`[^`\n]+`|[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*|[.,;:!?]"
)
_LETTERS_RE = re.compile(r"[a-z]+")

_STOPWORDS = frozenset(
    """
    about above after again against all also although always among and another any are
    around because been before being below between both but can cannot could did does doing
    done down during each either else enough even ever every few for from further had has
    have having her here hers him his how however into its itself just last least less like
    little made make makes many may might more most much must near need never next not now
    off often once one only onto other others our ours out over own per perhaps quite rather
    really same several she should since some something sometimes still such than that the
    their them then there these they thing things this those though through thus too toward
    under until upon very was way ways well were what when where whether which while who whom
    whose why will with within without would yet you your yours able get got give given gives
    let lets put say says said see seen take takes tell tells use used uses using want wants
    know knows its it's don't can't isn't doesn't there's that's what's i'm i've you're
    please thanks thank hello hi hey
    """.split()
)


def _stem(word: str) -> str:
    """Crude suffix stripping so "gardening", "gardener" and "gardens" meet at "garden".

    Good enough for matching prompt words to corpus words; a real stemmer would be a
    dependency for no visible gain in a demo model.
    """
    for suffix in ("ings", "ing", "ers", "er", "ies", "es", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def content_stems(text: str) -> list[str]:
    """Stems of the content words of a text (lowercase, three letters or more, no stopwords)."""
    return [
        _stem(w) for w in _LETTERS_RE.findall(text.lower()) if len(w) >= 3 and w not in _STOPWORDS
    ]


def unique_sorted(items: list[str]) -> tuple[str, ...]:
    """Distinct items in a hash-seed-independent order (see NgramModel.doc_stems)."""
    return tuple(sorted(set(items)))


def tokenize_paragraph(paragraph: str) -> list[str]:
    """Splits a corpus paragraph into tokens; a "- " list line starts with a bullet token."""
    tokens: list[str] = []
    for raw in paragraph.splitlines():
        line = raw.strip()
        if line.startswith("- "):
            tokens.append(BULLET)
            line = line[2:]
        tokens.extend(CORPUS_TOKEN_RE.findall(line))
    return tokens


def load_corpus_paragraphs(directory: Path = CORPUS_DIR) -> list[str]:
    """Returns the corpus paragraphs (training documents), files in name order."""
    paragraphs: list[str] = []
    for file in sorted(directory.glob("*.txt")):
        text = file.read_text(encoding="utf-8")
        paragraphs.extend(p.strip() for p in re.split(r"\n\s*\n", text) if p.strip())
    return paragraphs
