"""Regenerates the committed Python modules from the `.proto` files.

Run `python -m grove_explorer.protos.regenerate` after editing a `.proto` file.
`tests/server/test_protos_generated.py` regenerates into a temporary folder and fails when
the committed files differ, so the contract and its Python never drift apart.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

PROTOS_DIR = Path(__file__).resolve().parent
PACKAGE = "grove_explorer/protos"
"""Where the protos live as installed; protoc derives generated import lines from it."""
PROTO_FILES = ("sampler_public.proto", "chat.proto", "reflection_v1.proto")
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_dir: Path) -> Path:
    """Runs protoc (from grpcio-tools); returns the folder that holds the generated code.

    The folder is `out_dir/grove_explorer/protos/`. The repository keeps the protos in
    `protos/`, but installed they are `grove_explorer.protos`: protoc compiles them from a
    temporary include root where `grove_explorer/protos` points at this folder, so generated
    imports read `from grove_explorer.protos import ...`.
    """
    from grpc_tools import protoc  # imported lazily: grpcio-tools is a dev dependency

    well_known = resources.files("grpc_tools") / "_proto"
    target = out_dir / PACKAGE
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as include_root:
        namespace = Path(include_root) / PACKAGE
        namespace.parent.mkdir(parents=True)
        namespace.symlink_to(PROTOS_DIR, target_is_directory=True)
        args = [
            "grpc_tools.protoc",
            f"-I{include_root}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *(f"{PACKAGE}/{name}" for name in PROTO_FILES),
        ]
        code = protoc.main(args)
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: regenerate in place (or under `--out`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write under this folder instead of in place")
    args = parser.parse_args(argv)
    if args.out is not None:
        generate(args.out)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        generated = generate(Path(scratch))
        for path in generated.iterdir():
            if path.name.endswith(GENERATED_SUFFIXES):
                shutil.copyfile(path, PROTOS_DIR / path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
