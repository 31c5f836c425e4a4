"""A stage's settings as chalice gives them to its Lambda functions: one reader for
devtools, the benchmark and the tests."""
from __future__ import annotations

import json
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_FILE = PROJECT_DIR / ".chalice" / "config.json"


def load_config() -> dict:
    return json.loads(CONFIG_FILE.read_text())


def stages() -> list[str]:
    return sorted(load_config()["stages"])


def stage_env(stage: str) -> dict[str, str]:
    """The environment variables chalice gives a stage (stage values over global ones).

    KeyError names the stage when .chalice/config.json has no such stage.
    """
    config = load_config()
    if stage not in config["stages"]:
        raise KeyError(stage)
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env
