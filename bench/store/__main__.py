"""Runs every part of the store benchmark and prints now-vs-goal tables (exits 0)."""

from __future__ import annotations

import argparse
import asyncio
import importlib

from bench.goals import print_goals

PARTS = ("depth", "exporting", "importing")


def main() -> None:
    """Parses `--quick` / `--part`, runs the parts, prints their tables."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.store",
        description=(
            "Store, export and import costs: AddModelResponse at depth, a deep path through "
            "the SDK, export of wide and deep conversations, import of a long chain. Prints "
            "each figure beside its goal with PASS/FAIL; exits 0 either way."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--part", choices=PARTS, action="append", help="run only this part")
    args = parser.parse_args()
    for name in args.part or PARTS:
        module = importlib.import_module(f"bench.store.{name}")
        goals = asyncio.run(module.run(args.quick))
        print_goals(f"bench.store {name}" + (" (quick)" if args.quick else ""), goals)


if __name__ == "__main__":
    main()
