"""Referring to a branch from the command line (real `grove` processes).

The 8 characters a thread header shows name a response (`--leaf`); `grove search` says
which branch each hit is on; an imported copy is told apart from its original.
"""

from __future__ import annotations

import json
from pathlib import Path

from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.runtime import GroveServer
from tests.e2e.test_start_order import grove
from tests.helpers import collect


async def test_short_ids_branches_in_search_and_imported_titles(
    client: Client, server: GroveServer, tmp_path: Path
) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response(
        "Where do alders grow?", sampling=SamplingParams(max_tokens=6)
    )
    await collect(stream)
    first = await future
    await conversation.set_title("Alder notes")
    human = first.parent_response_id
    assert human is not None
    resample = conversation.sample(parent_response_id=human, sampling=SamplingParams(max_tokens=6))
    async for _ in resample:
        pass
    second = await resample.future
    cid = conversation.conversation_id
    at = ("--server", server.address)

    # The header's 8 characters name the response, and the conversation.
    code, out, err = await grove("show", cid[:8], "--leaf", first.response_id[:8], "--json", *at)
    assert code == 0, err
    assert [r["response_id"] for r in json.loads(out)["path"]] == [human, first.response_id]

    # Search hits: which branch, which response.
    code, out, err = await grove("search", "sender:model", *at)
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["CONVERSATION", "RESPONSE", "BRANCH"]
    by_response = {row.split()[1]: row.split()[2] for row in rows}
    assert by_response == {first.response_id[:12]: "1/2", second.response_id[:12]: "2/2"}
    code, out, _ = await grove("search", "sender:model", "--json", *at)
    assert sorted(tuple(hit["branch"]) for hit in json.loads(out)) == [(1, 2), (2, 2)]

    # An import is a copy with a marked title; the original keeps its own.
    target = tmp_path / "alders.json"
    code, _, err = await grove("export", cid, "--format", "json", "-o", str(target), *at)
    assert code == 0, err
    code, out, err = await grove("import", str(target), "--json", *at)
    assert code == 0, err
    copy = json.loads(out)
    assert copy["title"] == "Alder notes (imported)"
    code, out, _ = await grove("ls", "--json", *at)
    titles = [listed["title"] for listed in json.loads(out)]
    assert sorted(titles) == ["Alder notes", "Alder notes (imported)"]
    # Re-importing the copy's export does not stack the mark.
    code, _, _ = await grove(
        "export", copy["conversation_id"], "--format", "json", "-o", str(target), *at
    )
    code, out, _ = await grove("import", str(target), "--json", *at)
    assert code == 0 and json.loads(out)["title"] == "Alder notes (imported)"
