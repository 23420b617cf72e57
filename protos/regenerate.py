"""Regenerates the committed Python modules from the `.proto` files.

Run `python -m protos.regenerate` from the project root after editing a `.proto` file.
`tests/test_protos_generated.py` regenerates into a temporary folder and fails when the
committed files differ, so the contract and its Python never drift apart.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

PROTOS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PROTOS_DIR.parent
PROTO_FILES = ("protos/sampler_public.proto", "protos/chat.proto")


def generate(out_dir: Path) -> None:
    """Runs protoc (from grpcio-tools) so that `out_dir/protos/` holds the generated code.

    Protos are compiled relative to the project root so generated imports read
    `from protos import ...`, which works once the `protos` package is installed.
    """
    from grpc_tools import protoc  # imported lazily: grpcio-tools is a dev dependency

    well_known = resources.files("grpc_tools") / "_proto"
    (out_dir / "protos").mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROJECT_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *PROTO_FILES,
    ]
    code = protoc.main(args)
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: regenerate in place (or into `--out`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT, help="output root")
    args = parser.parse_args(argv)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
