"""Judging replies with a judge model, and listing the points replies make (issue 15).

rubrics.py (the built-in and configured rubrics), prompts.py (what a judge is asked and
the JSON schemas), parsing.py (reading a judge's answer, strictly), running.py (the calls:
one per reply in parallel, or one for the table), points.py (ExtractPoints, by a model or
by the offline heuristic), wire.py (judgements to and from protobuf). The servicer's side
is server/servicer/judging.py.
"""
