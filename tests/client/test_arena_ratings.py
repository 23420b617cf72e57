"""Arena ratings on data small enough to check by hand."""

from __future__ import annotations

import pytest

from grove_explorer.client.arena import Outcome, Setup, Vote
from grove_explorer.client.arena_ratings import leaderboard

HOT = Setup(model_name="m", temperature=1.2)
COLD = Setup(model_name="m", temperature=0.2)
OTHER = Setup(label="other model")


def vote(a: Setup, b: Setup, outcome: Outcome, n: int = 0) -> Vote:
    return Vote(
        vote_id=f"{n:032x}",
        conversation_id="c" * 32,
        parent_response_id="p" * 32,
        response_a="a" * 32,
        response_b="b" * 32,
        setup_a=a,
        setup_b=b,
        outcome=outcome,
    )


def test_setup_keys_are_stable_and_prefer_the_label() -> None:
    assert HOT.key == "m temperature=1.2"
    assert Setup(model_name="m", seed=3, system_prompt_name="").key == "m seed=3 system=default"
    assert OTHER.key == "other model"
    assert Setup(model_name="m", temperature=1.2).key == HOT.key


@pytest.mark.parametrize("method", ["bt", "elo"])
def test_a_setup_that_always_wins_ranks_first(method: str) -> None:
    votes = [vote(HOT, COLD, "a", i) for i in range(4)] + [vote(COLD, HOT, "b", 9)]
    votes += [vote(OTHER, COLD, "tie", 10)]
    board = leaderboard(votes, method)  # type: ignore[arg-type]
    first = board.standings[0]
    assert first.key == HOT.key and first.rank == 1
    assert (first.votes, first.wins, first.ties, first.losses) == (5, 5, 0, 0)
    assert first.ci_low <= first.rating <= first.ci_high
    assert board.standings[-1].key == COLD.key


@pytest.mark.parametrize("method", ["bt", "elo"])
def test_symmetric_results_give_equal_ratings(method: str) -> None:
    votes = [vote(HOT, COLD, "a", 1), vote(HOT, COLD, "b", 2)]
    votes += [vote(COLD, HOT, "a", 3), vote(COLD, HOT, "b", 4)]
    board = leaderboard(votes, method)  # type: ignore[arg-type]
    ratings = {s.key: s.rating for s in board.standings}
    # Elo is sequential, so the order of the votes leaves a small trace; BT has none.
    tolerance = 1e-6 if method == "bt" else 1.0
    assert abs(ratings[HOT.key] - ratings[COLD.key]) < tolerance


def test_both_bad_counts_as_a_tie_but_is_reported_apart() -> None:
    ties = leaderboard([vote(HOT, COLD, "tie", 1), vote(HOT, COLD, "a", 2)])
    bad = leaderboard([vote(HOT, COLD, "both_bad", 1), vote(HOT, COLD, "a", 2)])
    assert [s.rating for s in ties.standings] == [s.rating for s in bad.standings]
    hot = bad.standings[0]
    assert (hot.wins, hot.ties, hot.both_bad, hot.losses) == (1, 0, 1, 0)
    assert ties.standings[0].ties == 1 and ties.standings[0].both_bad == 0


def test_the_interval_shrinks_with_more_votes() -> None:
    def width(n: int) -> float:
        votes = [vote(HOT, COLD, "a", i) for i in range(3 * n)]
        votes += [vote(HOT, COLD, "b", 100 + i) for i in range(n)]
        hot = leaderboard(votes).standings[0]
        return hot.ci_high - hot.ci_low

    assert width(20) < width(2)


def test_the_same_votes_give_the_same_board_and_no_votes_an_empty_one() -> None:
    votes = [vote(HOT, COLD, "a", 1), vote(OTHER, HOT, "b", 2), vote(OTHER, COLD, "tie", 3)]
    assert leaderboard(votes) == leaderboard(votes)
    empty = leaderboard([])
    assert empty.standings == () and empty.votes == 0
