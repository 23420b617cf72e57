"""Who set an annotation, where a team looks: `grove show` and the app's message header.

Alice shares a conversation with Bob as a writer; Bob annotates Alice's reply. Alice sees
"by bob" next to the marks; Bob sees his own marks unnamed. Marks Alice sets herself are
unnamed to her and "by alice" to Bob (the viewpoint rule of app/viewpoint.py).
"""

from __future__ import annotations

from grove_explorer.app.widgets.annotated_message import AnnotatedMessageView
from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless_share import grove, isolated
from tests.app_helpers import explorer, settle
from tests.helpers import collect

__all__ = ["isolated"]  # the autouse fixture: no user config leaks into the runs

SIZE = (130, 40)


async def _shared(team: GroveServer) -> tuple[str, str, str]:
    """Alice's conversation shared with Bob (writer): (id, her question, the reply)."""
    async with Client(api_host=team.address, api_key="key-alice") as alice:
        mine = alice.grok.create_conversation()
        stream, future = mine.add_response("Medlars?", sampling=SamplingParams(max_tokens=4))
        await collect(stream)
        await future
        await mine.share_with("bob", "writer")
        question, reply = mine.responses
        await question.annotate(tags=["hers"])
        return mine.conversation_id, question.response_id, reply.response_id


async def _bob_marks(team: GroveServer, cid: str, reply_id: str) -> None:
    """Bob (a writer) annotates the reply and has it judged: both are his."""
    async with Client(api_host=team.address, api_key="key-bob") as bob:
        theirs = await bob.grok.get_conversation(cid)
        (reply,) = [r for r in theirs.responses if r.response_id == reply_id]
        await reply.annotate(tags=["moss"], note="check the grafting")
        (judgement,) = await theirs.judge([reply_id])
        assert judgement.asked_by == "bob"


async def test_grove_show_names_who_set_the_marks_when_not_the_caller(team: GroveServer) -> None:
    cid, _, reply_id = await _shared(team)
    await _bob_marks(team, cid, reply_id)

    code, out, err = await grove(team, "alice", "show", cid)
    assert code == 0, err
    assert "#hers\n" in out, "her own marks: no name"
    assert "#moss · by bob\n¶ check the grafting\n★ " in out
    assert "(heuristic demo) · by bob\n" in out, "his judgement, named"

    code, out, err = await grove(team, "bob", "show", cid)
    assert code == 0, err
    assert "#hers · by alice\n" in out
    assert "#moss\n¶ check the grafting\n★ " in out, "his own marks: no name"
    assert "(heuristic demo)\n" in out, "nor his judgement"
    assert "by bob" not in out


async def test_the_app_header_names_a_colleagues_marks(team: GroveServer) -> None:
    cid, question_id, reply_id = await _shared(team)
    await _bob_marks(team, cid, reply_id)
    async with explorer(team.address, size=SIZE, api_key="key-alice") as (_, pilot, screen):
        await settle(pilot)
        assert screen.conversation_id == cid
        headers = {
            view.response_id: view.header.plain for view in screen.query(AnnotatedMessageView)
        }
        assert "#moss · by bob" in headers[reply_id]
        assert "(heuristic demo) · by bob" in headers[reply_id], "his judgement"
        assert "#hers" in headers[question_id] and "by" not in headers[question_id]
