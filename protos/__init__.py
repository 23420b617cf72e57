"""The Grove gRPC contract: `.proto` files and the Python generated from them.

The generated modules (`*_pb2.py`, `*_pb2.pyi`, `*_pb2_grpc.py`) are committed so that
installing Grove needs no protoc; regenerate them with
`python -m grove_explorer.protos.regenerate`.
"""
