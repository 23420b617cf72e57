from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SamplingParams(_message.Message):
    __slots__ = ("temperature", "top_p", "max_tokens", "seed")
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    def __init__(self, temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., max_tokens: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class Logit(_message.Message):
    __slots__ = ("string_token", "logprob")
    STRING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LOGPROB_FIELD_NUMBER: _ClassVar[int]
    string_token: str
    logprob: float
    def __init__(self, string_token: _Optional[str] = ..., logprob: _Optional[float] = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("final_logit", "top_logits", "logprob_unknown")
    FINAL_LOGIT_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGITS_FIELD_NUMBER: _ClassVar[int]
    LOGPROB_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    final_logit: Logit
    top_logits: _containers.RepeatedCompositeFieldContainer[Logit]
    logprob_unknown: bool
    def __init__(self, final_logit: _Optional[_Union[Logit, _Mapping]] = ..., top_logits: _Optional[_Iterable[_Union[Logit, _Mapping]]] = ..., logprob_unknown: _Optional[bool] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("prompt_tokens", "sampled_tokens", "max_tokens")
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SAMPLED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens: int
    sampled_tokens: int
    max_tokens: int
    def __init__(self, prompt_tokens: _Optional[int] = ..., sampled_tokens: _Optional[int] = ..., max_tokens: _Optional[int] = ...) -> None: ...

class SampleTokensResponse(_message.Message):
    __slots__ = ("token", "budget", "tokens")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    token: Token
    budget: Budget
    tokens: _containers.RepeatedCompositeFieldContainer[Token]
    def __init__(self, token: _Optional[_Union[Token, _Mapping]] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., tokens: _Optional[_Iterable[_Union[Token, _Mapping]]] = ...) -> None: ...
