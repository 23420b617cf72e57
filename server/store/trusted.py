"""Positional constructors of frozen, slotted record dataclasses, for values already checked.

A frozen dataclass's `__init__` sets each field through `object.__setattr__` (looked up
per field); for a record of 17 fields that is most of building one. An import builds
two records per response, 60,000 of each for a long chain, so it builds them with
`trusted_init(cls)`: the same object (equal, same type, every field set in declaration
order), each field written through its slot directly. No defaults and no
`__post_init__`: the caller passes every field, positionally.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def trusted_init(cls: type[T]) -> Callable[..., T]:
    """`cls(*fields)` for a frozen, slotted dataclass without `__post_init__`, faster.

    Every field must be passed, positionally, in declaration order.
    """
    params = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not getattr(cls, "__slots__", None) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: trusted_init needs slots and no __post_init__")
    names = [f.name for f in params]
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = [f"def build({', '.join(names)}):", "    record = new(cls)"]
    for index, name in enumerate(names):
        namespace[f"set{index}"] = getattr(cls, name).__set__
        lines.append(f"    set{index}(record, {name})")
    lines.append("    return record")
    exec(compile("\n".join(lines) + "\n", f"<trusted {cls.__name__}>", "exec"), namespace)
    build: Callable[..., T] = namespace["build"]
    build.__doc__ = f"A {cls.__name__} of every field, positionally (values already checked)."
    return build
