"""Fusion of sibling replies into one (AddResponseRequest.merge): the prompt a model sees.

Pure functions of texts (no gRPC, no store): `prompts.py` builds the final instruction
message from the sources and the mode. The servicer's side (checks, the stream) is
server/servicer/merging.py; the offline model's demo fusion is
server/sampler/offline/fusion.py.
"""
