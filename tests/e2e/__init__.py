"""Whole processes across layers: the server as a child process (signals, kill -9), the app
on a pseudo-terminal, the seed's example script, the installed distribution."""
