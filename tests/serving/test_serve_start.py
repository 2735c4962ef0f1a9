"""`userscore serve` start-up: bad config exits 2 with one line before the port opens; without a snapshot
the server runs and is not ready. No Spark: the server never starts a session."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess

import httpx
import pytest

from tests.serving.server import KEYS, keys_env, running_server, serve_command, serve_env
from userscore.cli import main
from userscore.jobs.serve import listening_socket
from userscore.serving.keys import digest


def _start(*sets: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(serve_command(*sets), env=serve_env(env), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("sets", "env", "message"),
    [
        (
            (),
            {},
            "config error in conf serving.api.keys at serving.api.keys: found no API key; expected at least one key in conf or $USERSCORE_API_KEYS",
        ),
        (
            ("serving.api.keys={crm: {sha256: abc, scopes: [scores:read]}}",),
            {},
            "at serving.api.keys.crm.sha256: found 'abc' (str); expected the 64 lower-case hex digits",
        ),
        (
            (),
            {"USERSCORE_API_KEYS": "crm: {sha256: " + digest("k") + ", scopes: [admin]}"},
            "config error in $USERSCORE_API_KEYS at crm.scopes.0: found 'admin' (str)",
        ),
        (
            ("serving.snapshot.shards=0",),
            {"USERSCORE_API_KEYS": keys_env()},
            "at serving.snapshot.shards: found 0 (int); expected an integer in [1, 1024]",
        ),
        (
            ("serving.api.page_size=5000",),
            {"USERSCORE_API_KEYS": keys_env()},
            "at serving.api.page_size: found 5000 (int); expected at most max_page_size (1000)",
        ),
        (
            ("serving.api.user_id_pattern='[a-z]+'",),
            {"USERSCORE_API_KEYS": keys_env()},
            "expected anchored with ^ and $",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line(sets, env, message):
    done = _start(*sets, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_without_a_snapshot_the_server_runs_and_is_not_ready(tmp_path):
    with running_server([f"serving.snapshot.root={tmp_path / 'serving'}"], tmp_path / "serve.log") as url:
        ready = httpx.get(f"{url}/ready", timeout=10)
        assert (ready.status_code, ready.json()) == (
            503,
            {"status": "not ready", "detail": "no snapshot published yet"},
        )
        user = httpx.get(f"{url}/v1/users/u-1", headers={"X-API-Key": KEYS["all"]}, timeout=10)
        assert (user.status_code, user.json()) == (503, {"detail": "no snapshot published yet"})


def test_a_taken_port_exits_2_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [*serve_command(f"serving.snapshot.root={tmp_path}"), "--port", str(port)]
        done = subprocess.run(
            command, env=serve_env({"USERSCORE_API_KEYS": keys_env()}), capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 2
    assert (
        f"userscore serve: error: cannot listen on 127.0.0.1:{port} (serving.api.host, serving.api.port): Address already in use"
        in done.stdout
    )


def test_new_key_prints_a_key_and_only_its_digest(capsys):
    assert main(["serve", "--new-key", "crm", "--scopes", "scores:read", "restricted:read"]) == 0
    out = capsys.readouterr().out
    key = re.search(r"only its digest is stored\): (\S+)", out).group(1)
    expected = hashlib.sha256(key.encode()).hexdigest()
    assert len(key) == 43
    assert f"    crm:\n      sha256: {expected}\n      scopes: [scores:read, restricted:read]\n" in out
    assert f"USERSCORE_API_KEYS='crm: {{sha256: {expected}, scopes: [scores:read, restricted:read]}}'" in out


def test_the_listening_socket_sends_small_responses_at_once():
    # Without TCP_NODELAY (inherited by accepted connections) a small response waits for the client's
    # delayed ACK: about 40 ms per request on Linux.
    listener = listening_socket("127.0.0.1", 0)
    try:
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()
