"""Runs mypy over Grove's layers under their installed names (`grove_explorer.*`).

mypy cannot see the editable install's import hook, so this builds a throwaway folder in
which `grove_explorer/<layer>` links to each layer folder of the repository and checks the
packages from there; errors name `grove_explorer/<layer>/…` paths. The settings live in
pyproject.toml (`[tool.mypy]` and its per-package overrides).

Usage: `python tools/typecheck.py [LAYER ...]` (default: every layer); exit status is mypy's.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "grove_explorer"
LAYERS = ("protos", "client", "server", "app")


def main(argv: list[str]) -> int:
    """Checks the named layers (all by default) and prints mypy's report."""
    from mypy import api

    layers = argv or list(LAYERS)
    unknown = sorted(set(layers) - set(LAYERS))
    if unknown:
        print(f"unknown layer(s) {unknown}; choose from {list(LAYERS)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="grove-typecheck-") as farm:
        namespace = Path(farm) / NAMESPACE
        namespace.mkdir()
        for layer in LAYERS:
            (namespace / layer).symlink_to(ROOT / layer, target_is_directory=True)
        args = ["--config-file", str(ROOT / "pyproject.toml")]
        for layer in layers:
            args += ["-p", f"{NAMESPACE}.{layer}"]
        # mypy resolves packages from the working folder; run it from the farm.
        previous = Path.cwd()
        import os

        os.chdir(farm)
        try:
            out, err, status = api.run(args)
        finally:
            os.chdir(previous)
    sys.stdout.write(out.replace(f"{farm}/", ""))
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
