"""The local server as `make run` starts it, in a subprocess (tests/e2e/test_local_server.py, the
waiting room's live tests, the docs' examples). It lives in devtools/process.py, which the benchmark uses too."""
from devtools.process import LocalServer, call, free_port, request, server_env

__all__ = ["LocalServer", "call", "free_port", "request", "server_env"]
