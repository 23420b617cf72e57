"""The committed generated code matches what `python -m grove_explorer.protos.regenerate` makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from grove_explorer.protos import regenerate

GENERATED = (
    "chat_pb2.py",
    "chat_pb2.pyi",
    "chat_pb2_grpc.py",
    "sampler_public_pb2.py",
    "sampler_public_pb2.pyi",
    "sampler_public_pb2_grpc.py",
)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_code_is_current(tmp_path: Path, name: str) -> None:
    fresh = (regenerate.generate(tmp_path) / name).read_text()
    committed = (regenerate.PROTOS_DIR / name).read_text()
    assert committed == fresh, (
        f"protos/{name} is stale: run `python -m grove_explorer.protos.regenerate`"
    )


def test_seed_fields_exist() -> None:
    """Every message and field the seed's SDK touches is in the contract."""
    from grove_explorer.protos import chat_pb2, sampler_public_pb2

    request = chat_pb2.AddResponseRequest(
        conversation_id="c",
        message="m",
        model_name="",
        parent_response_id="",
        use_grok=True,
        system_prompt_name="fun",
    )
    assert request.use_grok
    response = chat_pb2.AddResponseResponse()
    assert {f.name for f in response.DESCRIPTOR.oneofs_by_name["response"].fields} == {
        "user_response",
        "model_response",
        "query_action",
        "token",
    }
    token = sampler_public_pb2.SampleTokensResponse()
    token.token.final_logit.string_token = "x"
    assert token.WhichOneof("response") == "token"
    assert {f.name for f in chat_pb2.Response.DESCRIPTOR.fields} >= {
        "response_id",
        "message",
        "sender",
        "create_time",
        "parent_response_id",
        "manual",
        "partial",
        "shared",
        "query",
        "query_type",
    }
    methods = {m.name for m in chat_pb2.DESCRIPTOR.services_by_name["Chat"].methods}
    assert methods >= {
        "CreateConversation",
        "GetConversation",
        "ListConversations",
        "UpdateConversation",
        "DeleteConversation",
        "GenerateTitle",
        "AddResponse",
        "AddModelResponse",
        "ShareConversation",
    }
