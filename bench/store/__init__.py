"""Store, export and import costs (issue 13): `python -m bench.store [--quick]`.

Each part is a module with `async def run(quick: bool) -> list[Goal]`; `__main__` runs
them in order against fresh servers and databases of their own and prints one table per
part. Parts: `depth` (AddModelResponse at depth, a deep path built through the SDK),
`exporting` (export of wide and deep conversations), `importing` (a long imported chain).
"""
