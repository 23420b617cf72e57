"""Runs every part of the store benchmark and prints now-vs-goal tables (exits 0)."""

from __future__ import annotations

import argparse
import asyncio
import importlib

from bench.goals import print_goals

PARTS = ("depth", "exporting", "importing")
ON_POSTGRES = ("importing",)
"""The parts that take `--db` (a PostgreSQL database instead of a SQLite file)."""


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
    parser.add_argument(
        "--db",
        metavar="postgresql|URL",
        help="run on PostgreSQL (part importing): 'postgresql' starts a throwaway cluster, a "
        "postgresql:// URL names a server where the user may CREATE DATABASE (default: a "
        "temporary SQLite file)",
    )
    args = parser.parse_args()
    parts = args.part or PARTS
    if args.db is not None and any(name not in ON_POSTGRES for name in parts):
        parser.error(f"--db applies to --part {' / '.join(ON_POSTGRES)} only")
    for name in parts:
        module = importlib.import_module(f"bench.store.{name}")
        options = {} if args.db is None else {"db": args.db}
        goals = asyncio.run(module.run(args.quick, **options))
        print_goals(f"bench.store {name}" + (" (quick)" if args.quick else ""), goals)


if __name__ == "__main__":
    main()
