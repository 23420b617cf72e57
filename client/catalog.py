"""What a server offers: its models, named system prompts and judge rubrics (ListModels).

Plain pydantic models so the app can show them in pickers without touching protobuf.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from grove_explorer.client.sampler import sampling_mode_name

if TYPE_CHECKING:
    from grove_explorer.protos import chat_pb2


class ModelInfo(BaseModel):
    """One named backend: what `model_name` to send and what its replies default to."""

    model_config = ConfigDict(frozen=True)

    name: str
    backend: str
    upstream_model: str = ""
    description: str = ""
    default_temperature: float | None = None
    default_top_p: float | None = None
    default_max_tokens: int | None = None
    is_default: bool = False
    supports_logprobs: bool | None = None
    # "chat" and/or "completion", the model's default first.
    modes: tuple[str, ...] = ("chat",)
    # Whether `AsyncGrok.embed` works with this model, and its backend's embeddings model.
    supports_embeddings: bool = False
    embeddings_model: str = ""

    @classmethod
    def from_proto(cls, info: chat_pb2.ModelInfo) -> ModelInfo:
        """Reads a ListModels entry (unset defaults stay None)."""
        params = info.default_sampling_params
        return cls(
            name=info.name,
            backend=info.backend,
            upstream_model=info.upstream_model,
            description=info.description,
            default_temperature=params.temperature if params.HasField("temperature") else None,
            default_top_p=params.top_p if params.HasField("top_p") else None,
            default_max_tokens=params.max_tokens if params.HasField("max_tokens") else None,
            is_default=info.is_default,
            supports_logprobs=(
                info.supports_logprobs if info.HasField("supports_logprobs") else None
            ),
            modes=tuple(sampling_mode_name(m) for m in info.modes) or ("chat",),
            supports_embeddings=info.supports_embeddings,
            embeddings_model=info.embeddings_model,
        )

    @property
    def defaults_label(self) -> str:
        """The defaults in one short line, e.g. "T 0.8 · top-p 0.95 · max 200"."""
        parts = []
        if self.default_temperature is not None:
            parts.append(f"T {self.default_temperature:.2g}")
        if self.default_top_p is not None:
            parts.append(f"top-p {self.default_top_p:.2g}")
        if self.default_max_tokens is not None:
            parts.append(f"max {self.default_max_tokens}")
        return " · ".join(parts)


class SystemPromptInfo(BaseModel):
    """A named system prompt ("" is the server's default prompt)."""

    model_config = ConfigDict(frozen=True)

    name: str
    text: str

    @property
    def label(self) -> str:
        """The name people see: "default" for the unnamed prompt."""
        return self.name or "default"


class RubricInfo(BaseModel):
    """A named rubric a judge scores against ("default" is the server's built-in one)."""

    model_config = ConfigDict(frozen=True)

    name: str
    text: str


class ModelCatalog(BaseModel):
    """Everything ListModels returned."""

    model_config = ConfigDict(frozen=True)

    models: tuple[ModelInfo, ...] = ()
    default_model: str = ""
    system_prompts: tuple[SystemPromptInfo, ...] = ()
    # Rubrics for judging: the built-in "default" first, then the server's `[rubrics]`.
    rubrics: tuple[RubricInfo, ...] = ()

    @classmethod
    def from_proto(cls, reply: chat_pb2.ListModelsResponse) -> ModelCatalog:
        """Reads a ListModels reply."""
        return cls(
            models=tuple(ModelInfo.from_proto(m) for m in reply.models),
            default_model=reply.default_model,
            system_prompts=tuple(
                SystemPromptInfo(name=p.name, text=p.text) for p in reply.system_prompts
            ),
            rubrics=tuple(RubricInfo(name=r.name, text=r.text) for r in reply.rubrics),
        )

    def model(self, name: str) -> ModelInfo | None:
        """The model `name` picks ("" picks the default); None if the server has none."""
        name = name or self.default_model
        return next((m for m in self.models if m.name == name), None)
