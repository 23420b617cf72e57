"""The Grove Chat server: grpc.aio service, SQLite store and pluggable samplers."""
