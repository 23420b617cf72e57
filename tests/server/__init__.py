"""Server layer: the store, the samplers, the servicer's statuses, auth and TLS, driven
in-process (a GroveServer on a loopback port) through raw stubs or the SDK."""
