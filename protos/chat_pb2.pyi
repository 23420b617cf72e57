import datetime

from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from grove_explorer.protos import sampler_public_pb2 as _sampler_public_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JudgeMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JUDGE_MODE_UNSPECIFIED: _ClassVar[JudgeMode]
    JUDGE_MODE_EACH: _ClassVar[JudgeMode]
    JUDGE_MODE_TABLE: _ClassVar[JudgeMode]

class MergeMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MERGE_MODE_UNSPECIFIED: _ClassVar[MergeMode]
    MERGE_MODE_FUSE: _ClassVar[MergeMode]
    MERGE_MODE_CHECKLIST: _ClassVar[MergeMode]
    MERGE_MODE_CUSTOM: _ClassVar[MergeMode]

class FinishReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINISH_REASON_UNSPECIFIED: _ClassVar[FinishReason]
    FINISH_REASON_STOP: _ClassVar[FinishReason]
    FINISH_REASON_LENGTH: _ClassVar[FinishReason]
    FINISH_REASON_CONTENT_FILTER: _ClassVar[FinishReason]
    FINISH_REASON_TOOL_CALLS: _ClassVar[FinishReason]
    FINISH_REASON_STOPPED: _ClassVar[FinishReason]
    FINISH_REASON_CANCELLED: _ClassVar[FinishReason]
    FINISH_REASON_SHUTDOWN: _ClassVar[FinishReason]
    FINISH_REASON_ERROR: _ClassVar[FinishReason]
    FINISH_REASON_INTERRUPTED: _ClassVar[FinishReason]

class SamplingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLING_MODE_UNSPECIFIED: _ClassVar[SamplingMode]
    SAMPLING_MODE_CHAT: _ClassVar[SamplingMode]
    SAMPLING_MODE_COMPLETION: _ClassVar[SamplingMode]

class ArenaOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARENA_OUTCOME_UNSPECIFIED: _ClassVar[ArenaOutcome]
    ARENA_OUTCOME_A: _ClassVar[ArenaOutcome]
    ARENA_OUTCOME_B: _ClassVar[ArenaOutcome]
    ARENA_OUTCOME_TIE: _ClassVar[ArenaOutcome]
    ARENA_OUTCOME_BOTH_BAD: _ClassVar[ArenaOutcome]

class ShareRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHARE_ROLE_UNSPECIFIED: _ClassVar[ShareRole]
    SHARE_ROLE_OWNER: _ClassVar[ShareRole]
    SHARE_ROLE_WRITER: _ClassVar[ShareRole]
    SHARE_ROLE_READER: _ClassVar[ShareRole]
JUDGE_MODE_UNSPECIFIED: JudgeMode
JUDGE_MODE_EACH: JudgeMode
JUDGE_MODE_TABLE: JudgeMode
MERGE_MODE_UNSPECIFIED: MergeMode
MERGE_MODE_FUSE: MergeMode
MERGE_MODE_CHECKLIST: MergeMode
MERGE_MODE_CUSTOM: MergeMode
FINISH_REASON_UNSPECIFIED: FinishReason
FINISH_REASON_STOP: FinishReason
FINISH_REASON_LENGTH: FinishReason
FINISH_REASON_CONTENT_FILTER: FinishReason
FINISH_REASON_TOOL_CALLS: FinishReason
FINISH_REASON_STOPPED: FinishReason
FINISH_REASON_CANCELLED: FinishReason
FINISH_REASON_SHUTDOWN: FinishReason
FINISH_REASON_ERROR: FinishReason
FINISH_REASON_INTERRUPTED: FinishReason
SAMPLING_MODE_UNSPECIFIED: SamplingMode
SAMPLING_MODE_CHAT: SamplingMode
SAMPLING_MODE_COMPLETION: SamplingMode
ARENA_OUTCOME_UNSPECIFIED: ArenaOutcome
ARENA_OUTCOME_A: ArenaOutcome
ARENA_OUTCOME_B: ArenaOutcome
ARENA_OUTCOME_TIE: ArenaOutcome
ARENA_OUTCOME_BOTH_BAD: ArenaOutcome
SHARE_ROLE_UNSPECIFIED: ShareRole
SHARE_ROLE_OWNER: ShareRole
SHARE_ROLE_WRITER: ShareRole
SHARE_ROLE_READER: ShareRole

class Response(_message.Message):
    __slots__ = ("response_id", "message", "sender", "create_time", "parent_response_id", "manual", "partial", "shared", "query", "query_type", "model_name", "sampling_params", "token_count", "time_to_first_token_seconds", "total_time_seconds", "annotation", "prefix_length", "start_time", "finish_reason", "reported_usage", "judgements", "merged_from", "merge_mode", "merge_instruction", "replay_of", "system_prompt_name", "author_user_id")
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    MANUAL_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    QUERY_TYPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_TOKEN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    PREFIX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    REPORTED_USAGE_FIELD_NUMBER: _ClassVar[int]
    JUDGEMENTS_FIELD_NUMBER: _ClassVar[int]
    MERGED_FROM_FIELD_NUMBER: _ClassVar[int]
    MERGE_MODE_FIELD_NUMBER: _ClassVar[int]
    MERGE_INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    REPLAY_OF_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    message: str
    sender: str
    create_time: _timestamp_pb2.Timestamp
    parent_response_id: str
    manual: bool
    partial: bool
    shared: bool
    query: str
    query_type: str
    model_name: str
    sampling_params: _sampler_public_pb2.SamplingParams
    token_count: int
    time_to_first_token_seconds: float
    total_time_seconds: float
    annotation: Annotation
    prefix_length: int
    start_time: _timestamp_pb2.Timestamp
    finish_reason: FinishReason
    reported_usage: ReportedUsage
    judgements: _containers.RepeatedCompositeFieldContainer[Judgement]
    merged_from: _containers.RepeatedScalarFieldContainer[str]
    merge_mode: MergeMode
    merge_instruction: str
    replay_of: str
    system_prompt_name: str
    author_user_id: str
    def __init__(self, response_id: _Optional[str] = ..., message: _Optional[str] = ..., sender: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., parent_response_id: _Optional[str] = ..., manual: _Optional[bool] = ..., partial: _Optional[bool] = ..., shared: _Optional[bool] = ..., query: _Optional[str] = ..., query_type: _Optional[str] = ..., model_name: _Optional[str] = ..., sampling_params: _Optional[_Union[_sampler_public_pb2.SamplingParams, _Mapping]] = ..., token_count: _Optional[int] = ..., time_to_first_token_seconds: _Optional[float] = ..., total_time_seconds: _Optional[float] = ..., annotation: _Optional[_Union[Annotation, _Mapping]] = ..., prefix_length: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_reason: _Optional[_Union[FinishReason, str]] = ..., reported_usage: _Optional[_Union[ReportedUsage, _Mapping]] = ..., judgements: _Optional[_Iterable[_Union[Judgement, _Mapping]]] = ..., merged_from: _Optional[_Iterable[str]] = ..., merge_mode: _Optional[_Union[MergeMode, str]] = ..., merge_instruction: _Optional[str] = ..., replay_of: _Optional[str] = ..., system_prompt_name: _Optional[str] = ..., author_user_id: _Optional[str] = ...) -> None: ...

class Judgement(_message.Message):
    __slots__ = ("judgement_id", "response_id", "score", "rationale", "judge_model", "rubric_name", "rubric", "sampling_params", "mode", "create_time", "batch_id", "heuristic", "asked_by_user_id")
    JUDGEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    JUDGE_MODEL_FIELD_NUMBER: _ClassVar[int]
    RUBRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    RUBRIC_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    HEURISTIC_FIELD_NUMBER: _ClassVar[int]
    ASKED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    judgement_id: str
    response_id: str
    score: float
    rationale: str
    judge_model: str
    rubric_name: str
    rubric: str
    sampling_params: _sampler_public_pb2.SamplingParams
    mode: JudgeMode
    create_time: _timestamp_pb2.Timestamp
    batch_id: str
    heuristic: bool
    asked_by_user_id: str
    def __init__(self, judgement_id: _Optional[str] = ..., response_id: _Optional[str] = ..., score: _Optional[float] = ..., rationale: _Optional[str] = ..., judge_model: _Optional[str] = ..., rubric_name: _Optional[str] = ..., rubric: _Optional[str] = ..., sampling_params: _Optional[_Union[_sampler_public_pb2.SamplingParams, _Mapping]] = ..., mode: _Optional[_Union[JudgeMode, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., heuristic: _Optional[bool] = ..., asked_by_user_id: _Optional[str] = ...) -> None: ...

class JudgeResponsesRequest(_message.Message):
    __slots__ = ("conversation_id", "response_ids", "model_name", "rubric_name", "criteria", "mode", "sampling_params")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_IDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    RUBRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    CRITERIA_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    response_ids: _containers.RepeatedScalarFieldContainer[str]
    model_name: str
    rubric_name: str
    criteria: str
    mode: JudgeMode
    sampling_params: _sampler_public_pb2.SamplingParams
    def __init__(self, conversation_id: _Optional[str] = ..., response_ids: _Optional[_Iterable[str]] = ..., model_name: _Optional[str] = ..., rubric_name: _Optional[str] = ..., criteria: _Optional[str] = ..., mode: _Optional[_Union[JudgeMode, str]] = ..., sampling_params: _Optional[_Union[_sampler_public_pb2.SamplingParams, _Mapping]] = ...) -> None: ...

class JudgeResponsesResponse(_message.Message):
    __slots__ = ("judgements",)
    JUDGEMENTS_FIELD_NUMBER: _ClassVar[int]
    judgements: _containers.RepeatedCompositeFieldContainer[Judgement]
    def __init__(self, judgements: _Optional[_Iterable[_Union[Judgement, _Mapping]]] = ...) -> None: ...

class Merge(_message.Message):
    __slots__ = ("source_ids", "mode", "instruction")
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    mode: MergeMode
    instruction: str
    def __init__(self, source_ids: _Optional[_Iterable[str]] = ..., mode: _Optional[_Union[MergeMode, str]] = ..., instruction: _Optional[str] = ...) -> None: ...

class ExtractPointsRequest(_message.Message):
    __slots__ = ("conversation_id", "response_ids", "model_name")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_IDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    response_ids: _containers.RepeatedScalarFieldContainer[str]
    model_name: str
    def __init__(self, conversation_id: _Optional[str] = ..., response_ids: _Optional[_Iterable[str]] = ..., model_name: _Optional[str] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("text", "response_ids")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_IDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    response_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., response_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ExtractPointsResponse(_message.Message):
    __slots__ = ("points", "heuristic")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    HEURISTIC_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[Point]
    heuristic: bool
    def __init__(self, points: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., heuristic: _Optional[bool] = ...) -> None: ...

class EmbedTextsRequest(_message.Message):
    __slots__ = ("model_name", "texts")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_name: _Optional[str] = ..., texts: _Optional[_Iterable[str]] = ...) -> None: ...

class Embedding(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class EmbedTextsResponse(_message.Message):
    __slots__ = ("embeddings", "embeddings_model")
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_MODEL_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedCompositeFieldContainer[Embedding]
    embeddings_model: str
    def __init__(self, embeddings: _Optional[_Iterable[_Union[Embedding, _Mapping]]] = ..., embeddings_model: _Optional[str] = ...) -> None: ...

class ReportedUsage(_message.Message):
    __slots__ = ("prompt_tokens", "completion_tokens")
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens: int
    completion_tokens: int
    def __init__(self, prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ...) -> None: ...

class Annotation(_message.Message):
    __slots__ = ("bookmarked", "tags", "rating", "note", "set_by_user_id")
    BOOKMARKED_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    SET_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    bookmarked: bool
    tags: _containers.RepeatedScalarFieldContainer[str]
    rating: int
    note: str
    set_by_user_id: str
    def __init__(self, bookmarked: _Optional[bool] = ..., tags: _Optional[_Iterable[str]] = ..., rating: _Optional[int] = ..., note: _Optional[str] = ..., set_by_user_id: _Optional[str] = ...) -> None: ...

class AnnotateResponseRequest(_message.Message):
    __slots__ = ("conversation_id", "response_id", "annotation")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    response_id: str
    annotation: Annotation
    def __init__(self, conversation_id: _Optional[str] = ..., response_id: _Optional[str] = ..., annotation: _Optional[_Union[Annotation, _Mapping]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("query", "limit", "offset")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    query: str
    limit: int
    offset: int
    def __init__(self, query: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class TextSpan(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("conversation_id", "conversation_title", "response", "field", "snippet", "highlights", "branch_index", "branch_count")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_TITLE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    HIGHLIGHTS_FIELD_NUMBER: _ClassVar[int]
    BRANCH_INDEX_FIELD_NUMBER: _ClassVar[int]
    BRANCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    conversation_title: str
    response: Response
    field: str
    snippet: str
    highlights: _containers.RepeatedCompositeFieldContainer[TextSpan]
    branch_index: int
    branch_count: int
    def __init__(self, conversation_id: _Optional[str] = ..., conversation_title: _Optional[str] = ..., response: _Optional[_Union[Response, _Mapping]] = ..., field: _Optional[str] = ..., snippet: _Optional[str] = ..., highlights: _Optional[_Iterable[_Union[TextSpan, _Mapping]]] = ..., branch_index: _Optional[int] = ..., branch_count: _Optional[int] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "total")
    HITS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    total: int
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class GetResponseTokensRequest(_message.Message):
    __slots__ = ("conversation_id", "response_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    response_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., response_id: _Optional[str] = ...) -> None: ...

class GetResponseTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[_sampler_public_pb2.Token]
    def __init__(self, tokens: _Optional[_Iterable[_Union[_sampler_public_pb2.Token, _Mapping]]] = ...) -> None: ...

class GetResponsesTokensRequest(_message.Message):
    __slots__ = ("conversation_id", "response_ids")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_IDS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    response_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, conversation_id: _Optional[str] = ..., response_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ResponseTokens(_message.Message):
    __slots__ = ("response_id", "tokens")
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    tokens: _containers.RepeatedCompositeFieldContainer[_sampler_public_pb2.Token]
    def __init__(self, response_id: _Optional[str] = ..., tokens: _Optional[_Iterable[_Union[_sampler_public_pb2.Token, _Mapping]]] = ...) -> None: ...

class GetResponsesTokensResponse(_message.Message):
    __slots__ = ("responses",)
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[ResponseTokens]
    def __init__(self, responses: _Optional[_Iterable[_Union[ResponseTokens, _Mapping]]] = ...) -> None: ...

class ImportConversationRequest(_message.Message):
    __slots__ = ("title", "starred", "responses", "tokens", "summary_only", "keep_times", "create_time")
    class TokensEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TokenList
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TokenList, _Mapping]] = ...) -> None: ...
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STARRED_FIELD_NUMBER: _ClassVar[int]
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_ONLY_FIELD_NUMBER: _ClassVar[int]
    KEEP_TIMES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    title: str
    starred: bool
    responses: _containers.RepeatedCompositeFieldContainer[Response]
    tokens: _containers.MessageMap[str, TokenList]
    summary_only: bool
    keep_times: bool
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, title: _Optional[str] = ..., starred: _Optional[bool] = ..., responses: _Optional[_Iterable[_Union[Response, _Mapping]]] = ..., tokens: _Optional[_Mapping[str, TokenList]] = ..., summary_only: _Optional[bool] = ..., keep_times: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TokenList(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[_sampler_public_pb2.Token]
    def __init__(self, tokens: _Optional[_Iterable[_Union[_sampler_public_pb2.Token, _Mapping]]] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("conversation_id", "title", "starred", "create_time", "responses", "update_time", "response_count", "leaf_response_id", "import_times", "imported_ids", "owner_user_id", "role", "caller_user_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STARRED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_COUNT_FIELD_NUMBER: _ClassVar[int]
    LEAF_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORT_TIMES_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_IDS_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CALLER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    title: str
    starred: bool
    create_time: _timestamp_pb2.Timestamp
    responses: _containers.RepeatedCompositeFieldContainer[Response]
    update_time: _timestamp_pb2.Timestamp
    response_count: int
    leaf_response_id: str
    import_times: ImportTimes
    imported_ids: _containers.RepeatedScalarFieldContainer[str]
    owner_user_id: str
    role: ShareRole
    caller_user_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., title: _Optional[str] = ..., starred: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., responses: _Optional[_Iterable[_Union[Response, _Mapping]]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., response_count: _Optional[int] = ..., leaf_response_id: _Optional[str] = ..., import_times: _Optional[_Union[ImportTimes, _Mapping]] = ..., imported_ids: _Optional[_Iterable[str]] = ..., owner_user_id: _Optional[str] = ..., role: _Optional[_Union[ShareRole, str]] = ..., caller_user_id: _Optional[str] = ...) -> None: ...

class ImportTimes(_message.Message):
    __slots__ = ("kept", "missing", "raised")
    KEPT_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    RAISED_FIELD_NUMBER: _ClassVar[int]
    kept: int
    missing: int
    raised: int
    def __init__(self, kept: _Optional[int] = ..., missing: _Optional[int] = ..., raised: _Optional[int] = ...) -> None: ...

class SelectResponseRequest(_message.Message):
    __slots__ = ("conversation_id", "response_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    response_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., response_id: _Optional[str] = ...) -> None: ...

class SelectResponseResponse(_message.Message):
    __slots__ = ("leaf_response_id",)
    LEAF_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    leaf_response_id: str
    def __init__(self, leaf_response_id: _Optional[str] = ...) -> None: ...

class CreateConversationRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class ListConversationsResponse(_message.Message):
    __slots__ = ("conversations",)
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[Conversation]
    def __init__(self, conversations: _Optional[_Iterable[_Union[Conversation, _Mapping]]] = ...) -> None: ...

class UpdateConversationRequest(_message.Message):
    __slots__ = ("conversation_id", "title", "starred")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STARRED_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    title: str
    starred: bool
    def __init__(self, conversation_id: _Optional[str] = ..., title: _Optional[str] = ..., starred: _Optional[bool] = ...) -> None: ...

class DeleteConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class GenerateTitleRequest(_message.Message):
    __slots__ = ("conversation_id", "leaf_response_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    LEAF_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    leaf_response_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., leaf_response_id: _Optional[str] = ...) -> None: ...

class GenerateTitleResponse(_message.Message):
    __slots__ = ("new_title", "update_time", "starred")
    NEW_TITLE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STARRED_FIELD_NUMBER: _ClassVar[int]
    new_title: str
    update_time: _timestamp_pb2.Timestamp
    starred: bool
    def __init__(self, new_title: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., starred: _Optional[bool] = ...) -> None: ...

class AddResponseRequest(_message.Message):
    __slots__ = ("conversation_id", "message", "model_name", "parent_response_id", "use_grok", "system_prompt_name", "sampling_params", "request_id", "top_logprobs", "prefix", "select_reply", "mode", "merge", "replay_of_human", "replay_of_reply", "resumable")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    USE_GROK_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_NAME_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    SELECT_REPLY_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MERGE_FIELD_NUMBER: _ClassVar[int]
    REPLAY_OF_HUMAN_FIELD_NUMBER: _ClassVar[int]
    REPLAY_OF_REPLY_FIELD_NUMBER: _ClassVar[int]
    RESUMABLE_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    message: str
    model_name: str
    parent_response_id: str
    use_grok: bool
    system_prompt_name: str
    sampling_params: _sampler_public_pb2.SamplingParams
    request_id: str
    top_logprobs: int
    prefix: str
    select_reply: bool
    mode: SamplingMode
    merge: Merge
    replay_of_human: str
    replay_of_reply: str
    resumable: bool
    def __init__(self, conversation_id: _Optional[str] = ..., message: _Optional[str] = ..., model_name: _Optional[str] = ..., parent_response_id: _Optional[str] = ..., use_grok: _Optional[bool] = ..., system_prompt_name: _Optional[str] = ..., sampling_params: _Optional[_Union[_sampler_public_pb2.SamplingParams, _Mapping]] = ..., request_id: _Optional[str] = ..., top_logprobs: _Optional[int] = ..., prefix: _Optional[str] = ..., select_reply: _Optional[bool] = ..., mode: _Optional[_Union[SamplingMode, str]] = ..., merge: _Optional[_Union[Merge, _Mapping]] = ..., replay_of_human: _Optional[str] = ..., replay_of_reply: _Optional[str] = ..., resumable: _Optional[bool] = ...) -> None: ...

class QueryAction(_message.Message):
    __slots__ = ("type", "query")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    type: str
    query: str
    def __init__(self, type: _Optional[str] = ..., query: _Optional[str] = ...) -> None: ...

class AddResponseResponse(_message.Message):
    __slots__ = ("user_response", "model_response", "query_action", "token")
    USER_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    MODEL_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    QUERY_ACTION_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_response: Response
    model_response: Response
    query_action: QueryAction
    token: _sampler_public_pb2.SampleTokensResponse
    def __init__(self, user_response: _Optional[_Union[Response, _Mapping]] = ..., model_response: _Optional[_Union[Response, _Mapping]] = ..., query_action: _Optional[_Union[QueryAction, _Mapping]] = ..., token: _Optional[_Union[_sampler_public_pb2.SampleTokensResponse, _Mapping]] = ...) -> None: ...

class AddModelResponseRequest(_message.Message):
    __slots__ = ("conversation_id", "message", "partial", "parent_response_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    message: str
    partial: bool
    parent_response_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., message: _Optional[str] = ..., partial: _Optional[bool] = ..., parent_response_id: _Optional[str] = ...) -> None: ...

class ShareConversationRequest(_message.Message):
    __slots__ = ("conversation_id", "response_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    response_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., response_id: _Optional[str] = ...) -> None: ...

class ShareConversationResponse(_message.Message):
    __slots__ = ("share_url",)
    SHARE_URL_FIELD_NUMBER: _ClassVar[int]
    share_url: str
    def __init__(self, share_url: _Optional[str] = ...) -> None: ...

class StopResponseRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class StopResponseResponse(_message.Message):
    __slots__ = ("stopped",)
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    stopped: bool
    def __init__(self, stopped: _Optional[bool] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "backend", "upstream_model", "description", "default_sampling_params", "is_default", "supports_logprobs", "modes", "supports_embeddings", "embeddings_model")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_MODEL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    MODES_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_MODEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    backend: str
    upstream_model: str
    description: str
    default_sampling_params: _sampler_public_pb2.SamplingParams
    is_default: bool
    supports_logprobs: bool
    modes: _containers.RepeatedScalarFieldContainer[SamplingMode]
    supports_embeddings: bool
    embeddings_model: str
    def __init__(self, name: _Optional[str] = ..., backend: _Optional[str] = ..., upstream_model: _Optional[str] = ..., description: _Optional[str] = ..., default_sampling_params: _Optional[_Union[_sampler_public_pb2.SamplingParams, _Mapping]] = ..., is_default: _Optional[bool] = ..., supports_logprobs: _Optional[bool] = ..., modes: _Optional[_Iterable[_Union[SamplingMode, str]]] = ..., supports_embeddings: _Optional[bool] = ..., embeddings_model: _Optional[str] = ...) -> None: ...

class RubricInfo(_message.Message):
    __slots__ = ("name", "text")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    name: str
    text: str
    def __init__(self, name: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class SystemPromptInfo(_message.Message):
    __slots__ = ("name", "text")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    name: str
    text: str
    def __init__(self, name: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "default_model", "system_prompts", "rubrics")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPTS_FIELD_NUMBER: _ClassVar[int]
    RUBRICS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    default_model: str
    system_prompts: _containers.RepeatedCompositeFieldContainer[SystemPromptInfo]
    rubrics: _containers.RepeatedCompositeFieldContainer[RubricInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., default_model: _Optional[str] = ..., system_prompts: _Optional[_Iterable[_Union[SystemPromptInfo, _Mapping]]] = ..., rubrics: _Optional[_Iterable[_Union[RubricInfo, _Mapping]]] = ...) -> None: ...

class ImportChunk(_message.Message):
    __slots__ = ("part", "response_count")
    PART_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_COUNT_FIELD_NUMBER: _ClassVar[int]
    part: ImportConversationRequest
    response_count: int
    def __init__(self, part: _Optional[_Union[ImportConversationRequest, _Mapping]] = ..., response_count: _Optional[int] = ...) -> None: ...

class ArenaSetup(_message.Message):
    __slots__ = ("model_name", "sampling_params", "system_prompt_name", "label")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    sampling_params: _sampler_public_pb2.SamplingParams
    system_prompt_name: str
    label: str
    def __init__(self, model_name: _Optional[str] = ..., sampling_params: _Optional[_Union[_sampler_public_pb2.SamplingParams, _Mapping]] = ..., system_prompt_name: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class ArenaVote(_message.Message):
    __slots__ = ("vote_id", "conversation_id", "parent_response_id", "response_a", "response_b", "setup_a", "setup_b", "outcome", "create_time")
    VOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_A_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_B_FIELD_NUMBER: _ClassVar[int]
    SETUP_A_FIELD_NUMBER: _ClassVar[int]
    SETUP_B_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    vote_id: str
    conversation_id: str
    parent_response_id: str
    response_a: str
    response_b: str
    setup_a: ArenaSetup
    setup_b: ArenaSetup
    outcome: ArenaOutcome
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, vote_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., parent_response_id: _Optional[str] = ..., response_a: _Optional[str] = ..., response_b: _Optional[str] = ..., setup_a: _Optional[_Union[ArenaSetup, _Mapping]] = ..., setup_b: _Optional[_Union[ArenaSetup, _Mapping]] = ..., outcome: _Optional[_Union[ArenaOutcome, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordVoteRequest(_message.Message):
    __slots__ = ("conversation_id", "parent_response_id", "response_a", "response_b", "setup_a", "setup_b", "outcome")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_A_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_B_FIELD_NUMBER: _ClassVar[int]
    SETUP_A_FIELD_NUMBER: _ClassVar[int]
    SETUP_B_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    parent_response_id: str
    response_a: str
    response_b: str
    setup_a: ArenaSetup
    setup_b: ArenaSetup
    outcome: ArenaOutcome
    def __init__(self, conversation_id: _Optional[str] = ..., parent_response_id: _Optional[str] = ..., response_a: _Optional[str] = ..., response_b: _Optional[str] = ..., setup_a: _Optional[_Union[ArenaSetup, _Mapping]] = ..., setup_b: _Optional[_Union[ArenaSetup, _Mapping]] = ..., outcome: _Optional[_Union[ArenaOutcome, str]] = ...) -> None: ...

class ListVotesRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class ListVotesResponse(_message.Message):
    __slots__ = ("votes",)
    VOTES_FIELD_NUMBER: _ClassVar[int]
    votes: _containers.RepeatedCompositeFieldContainer[ArenaVote]
    def __init__(self, votes: _Optional[_Iterable[_Union[ArenaVote, _Mapping]]] = ...) -> None: ...

class ResumeResponseRequest(_message.Message):
    __slots__ = ("request_id", "after_tokens")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_TOKENS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    after_tokens: int
    def __init__(self, request_id: _Optional[str] = ..., after_tokens: _Optional[int] = ...) -> None: ...

class CancelResponseRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class CancelResponseResponse(_message.Message):
    __slots__ = ("cancelled",)
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    def __init__(self, cancelled: _Optional[bool] = ...) -> None: ...

class WatchConversationRequest(_message.Message):
    __slots__ = ("conversation_id", "own_request_prefix")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    OWN_REQUEST_PREFIX_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    own_request_prefix: str
    def __init__(self, conversation_id: _Optional[str] = ..., own_request_prefix: _Optional[str] = ...) -> None: ...

class ConversationEvent(_message.Message):
    __slots__ = ("conversation_id", "actor", "request_id", "started", "response_added", "reply_started", "reply_text", "reply_finished", "annotation_changed", "conversation_changed", "conversation_deleted", "reply_followed")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_ADDED_FIELD_NUMBER: _ClassVar[int]
    REPLY_STARTED_FIELD_NUMBER: _ClassVar[int]
    REPLY_TEXT_FIELD_NUMBER: _ClassVar[int]
    REPLY_FINISHED_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_CHANGED_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_CHANGED_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_DELETED_FIELD_NUMBER: _ClassVar[int]
    REPLY_FOLLOWED_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    actor: str
    request_id: str
    started: WatchStarted
    response_added: ResponseAdded
    reply_started: ReplyStarted
    reply_text: ReplyText
    reply_finished: ReplyFinished
    annotation_changed: AnnotationChanged
    conversation_changed: ConversationChanged
    conversation_deleted: ConversationDeleted
    reply_followed: ReplyFollowed
    def __init__(self, conversation_id: _Optional[str] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., started: _Optional[_Union[WatchStarted, _Mapping]] = ..., response_added: _Optional[_Union[ResponseAdded, _Mapping]] = ..., reply_started: _Optional[_Union[ReplyStarted, _Mapping]] = ..., reply_text: _Optional[_Union[ReplyText, _Mapping]] = ..., reply_finished: _Optional[_Union[ReplyFinished, _Mapping]] = ..., annotation_changed: _Optional[_Union[AnnotationChanged, _Mapping]] = ..., conversation_changed: _Optional[_Union[ConversationChanged, _Mapping]] = ..., conversation_deleted: _Optional[_Union[ConversationDeleted, _Mapping]] = ..., reply_followed: _Optional[_Union[ReplyFollowed, _Mapping]] = ...) -> None: ...

class WatchStarted(_message.Message):
    __slots__ = ("watcher", "replies", "response_count", "conversation")
    WATCHER_FIELD_NUMBER: _ClassVar[int]
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    watcher: str
    replies: _containers.RepeatedCompositeFieldContainer[ReplyInProgress]
    response_count: int
    conversation: ConversationChanged
    def __init__(self, watcher: _Optional[str] = ..., replies: _Optional[_Iterable[_Union[ReplyInProgress, _Mapping]]] = ..., response_count: _Optional[int] = ..., conversation: _Optional[_Union[ConversationChanged, _Mapping]] = ...) -> None: ...

class ReplyInProgress(_message.Message):
    __slots__ = ("reply", "actor", "request_id", "text", "token_lengths")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    reply: ReplyStarted
    actor: str
    request_id: str
    text: str
    token_lengths: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, reply: _Optional[_Union[ReplyStarted, _Mapping]] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., text: _Optional[str] = ..., token_lengths: _Optional[_Iterable[int]] = ...) -> None: ...

class ResponseAdded(_message.Message):
    __slots__ = ("response",)
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    response: Response
    def __init__(self, response: _Optional[_Union[Response, _Mapping]] = ...) -> None: ...

class ReplyStarted(_message.Message):
    __slots__ = ("stream_id", "parent_response_id", "model_name")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    parent_response_id: str
    model_name: str
    def __init__(self, stream_id: _Optional[str] = ..., parent_response_id: _Optional[str] = ..., model_name: _Optional[str] = ...) -> None: ...

class ReplyText(_message.Message):
    __slots__ = ("stream_id", "offset", "text", "token_lengths")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    offset: int
    text: str
    token_lengths: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, stream_id: _Optional[str] = ..., offset: _Optional[int] = ..., text: _Optional[str] = ..., token_lengths: _Optional[_Iterable[int]] = ...) -> None: ...

class ReplyFinished(_message.Message):
    __slots__ = ("stream_id", "response")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    response: Response
    def __init__(self, stream_id: _Optional[str] = ..., response: _Optional[_Union[Response, _Mapping]] = ...) -> None: ...

class AnnotationChanged(_message.Message):
    __slots__ = ("response_id", "annotation")
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    response_id: str
    annotation: Annotation
    def __init__(self, response_id: _Optional[str] = ..., annotation: _Optional[_Union[Annotation, _Mapping]] = ...) -> None: ...

class ConversationChanged(_message.Message):
    __slots__ = ("title", "starred", "update_time")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STARRED_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    title: str
    starred: bool
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, title: _Optional[str] = ..., starred: _Optional[bool] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConversationDeleted(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReplyFollowed(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class GrantAccessRequest(_message.Message):
    __slots__ = ("conversation_id", "user_id", "role")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    user_id: str
    role: ShareRole
    def __init__(self, conversation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[ShareRole, str]] = ...) -> None: ...

class AccessGrant(_message.Message):
    __slots__ = ("conversation_id", "user_id", "role", "granted_by", "create_time")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    GRANTED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    user_id: str
    role: ShareRole
    granted_by: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, conversation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[ShareRole, str]] = ..., granted_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RevokeAccessRequest(_message.Message):
    __slots__ = ("conversation_id", "user_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    user_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class RevokeAccessResponse(_message.Message):
    __slots__ = ("revoked",)
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    revoked: bool
    def __init__(self, revoked: _Optional[bool] = ...) -> None: ...

class ListAccessRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class ListAccessResponse(_message.Message):
    __slots__ = ("grants",)
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[AccessGrant]
    def __init__(self, grants: _Optional[_Iterable[_Union[AccessGrant, _Mapping]]] = ...) -> None: ...

class ResolveShareLinkRequest(_message.Message):
    __slots__ = ("link",)
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: str
    def __init__(self, link: _Optional[str] = ...) -> None: ...

class ResolveShareLinkResponse(_message.Message):
    __slots__ = ("conversation_id", "response_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    response_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., response_id: _Optional[str] = ...) -> None: ...
