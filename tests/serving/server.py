"""Start the real `userscore serve` process on a free port and stop it (no Spark in the process)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from tests.conftest import REPO
from userscore.serving.keys import digest

# Three clients: scores only, segments only, and everything including restricted tags.
KEYS = {"scores": "key-scores-0123456789abcdef", "segments": "key-segments-0123456789", "all": "key-all-0123456789abc"}
SCOPES = {
    "scores": ["scores:read"],
    "segments": ["segments:read"],
    "all": ["scores:read", "segments:read", "restricted:read"],
}


def keys_env() -> str:
    return "\n".join(f"{name}: {{sha256: {digest(KEYS[name])}, scopes: [{', '.join(SCOPES[name])}]}}" for name in KEYS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(*sets: str, port: int | None = None) -> list[str]:
    command = [sys.executable, "-m", "userscore.cli", "serve", "--env", "local", "--conf-dir", str(REPO / "conf")]
    for value in sets:
        command += ["--set", value]
    return command + ([] if port is None else ["--port", str(port)])


def serve_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "USERSCORE_API_KEYS"}
    env["PYTHONPATH"] = str(REPO / "lib") + os.pathsep + env.get("PYTHONPATH", "")
    return {**env, **(extra or {})}


@contextlib.contextmanager
def running_server(sets: Sequence[str], log: Path) -> Iterator[str]:
    """The base URL of a `userscore serve` process started with ``--set`` ``sets``; stopped on exit."""
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            serve_command(*sets, port=port), env=serve_env({"USERSCORE_API_KEYS": keys_env()}), stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited with {process.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve did not answer within 60 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
