"""Is this deployment able to serve? One cheap read of the storage, and the token secret.

Each check answers "ok" or "failing"; the reason goes to the log (its exception's class,
nothing else), never to the answer.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.domain.stores import stores
from chalicelib.errors import Unavailable
from chalicelib.settings import jwt_secret

log = logging.getLogger("dqs.health")
OK = "ok"
FAILING = "failing"


def _run(name: str, check: Callable[[], object]) -> str:
    try:
        check()
    except Exception as exc:  # a health check reports every failure, whatever it is
        log.warning("health check %s failed: %s", name, type(exc).__name__)
        return FAILING
    return OK


def check(version: str) -> dict:
    """{"status": "ok", "version", "checks"} when every check passes; Unavailable (503) naming the
    failing checks otherwise."""
    checks = {"dynamodb": _run("dynamodb", lambda: stores().probe.ping()), "secret": _run("secret", jwt_secret)}
    failing = [name for name, result in checks.items() if result != OK]
    if failing:
        raise Unavailable("Not healthy: %s failing." % ", ".join(failing),
                          extra={"status": "unavailable", "version": version, "checks": checks})
    return {"status": OK, "version": version, "checks": checks}
