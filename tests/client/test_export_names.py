"""`client.export` imports its names on first use; which names, and where from, is unchanged.

The package loads none of its modules when imported (issue 13: `grove import` needs no
SDK model), so each name is found through a module `__getattr__`: pinned here that every
name it exported before still comes from the package, as the same object its module
defines, and that what is not one of them is an AttributeError as for any module.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import grove_explorer.client.export as export

EXPORTED = {
    "json_format": ("FORMAT_NAME", "FORMAT_VERSION", "Document", "dumps", "shortest_float32"),
    "document": (
        "collect_tokens",
        "conversation_metadata",
        "export_json",
        "json_text",
        "response_to_dict",
        "token_to_dict",
    ),
    "drawing": (
        "conversation_dot",
        "conversation_markdown",
        "dot_string",
        "sampling_summary",
        "to_dot",
        "to_markdown",
    ),
    "importing": ("import_chunks", "import_request"),
    "reading": ("DocumentTree", "preference_pairs", "to_jsonl", "why_no_pairs"),
}
"""The package's names before it was made lazy, by the module that defines each."""


def test_the_package_exports_the_same_names() -> None:
    names = sorted(name for names in EXPORTED.values() for name in names)
    assert sorted(export.__all__) == names
    assert set(names) <= set(dir(export))


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module, names in EXPORTED.items() for name in names],
)
def test_each_name_is_its_modules_object(module: str, name: str) -> None:
    defined = getattr(importlib.import_module(f"grove_explorer.client.export.{module}"), name)
    assert getattr(export, name) is defined
    namespace: dict[str, object] = {}
    exec(f"from grove_explorer.client.export import {name}", namespace)
    assert namespace[name] is defined


def test_the_writer_is_the_one_document_re_exports() -> None:
    """`document` still offers the format constants and the writer it held before."""
    from grove_explorer.client.export import document, json_format

    for name in EXPORTED["json_format"]:
        assert getattr(document, name) is getattr(json_format, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = export.not_a_name  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        exec("from grove_explorer.client.export import not_a_name", {})


def test_importing_the_package_or_its_writer_loads_no_sdk_model() -> None:
    """A fresh interpreter: the package, `dumps` and the import checks, then `export_json`."""
    code = textwrap.dedent(
        """
        import sys
        from grove_explorer.client.export import FORMAT_NAME, dumps, import_request
        assert dumps({"format": FORMAT_NAME}) == '{\\n  "format": "grove.conversation"\\n}'
        print("pydantic" in sys.modules, "grove_explorer.client.conversation" in sys.modules)
        from grove_explorer.client.export import export_json
        print("pydantic" in sys.modules, "grove_explorer.client.conversation" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["False", "False", "True", "True"]
