"""Run the look-up API (FastAPI on uvicorn) over the published snapshot; no Spark session is started.

Parameters:
  --host H          listen address (default: serving.api.host)
  --port P          listen port (default: serving.api.port)
  --new-key NAME    print a fresh API key and the serving.api.keys entry holding its digest, then exit
  --scopes S ...    the scopes of --new-key (default: scores:read segments:read)

Keys come from serving.api.keys and the environment variable serving.api.keys_env (digests only). A bad
key entry, no key at all or a port already taken exits 2 with one line. Without a published snapshot the API starts
and /ready answers 503 until `userscore snapshot` publishes one; OpenAPI docs at /docs.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Sequence

from userscore.config.serving import SCOPES
from userscore.errors import InputError
from userscore.runner import JobContext

HELP = "serve users, tags, segments and changes over HTTP from the published snapshot"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="listen address")
    parser.add_argument("--port", type=int, help="listen port")
    parser.add_argument("--new-key", metavar="NAME", help="print a new API key and its config entry, then exit")
    parser.add_argument("--scopes", nargs="+", choices=SCOPES, default=["scores:read", "segments:read"])


def config_overrides(args: argparse.Namespace) -> dict:
    api = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    return {"serving": {"api": api}} if api else {}


def listening_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a taken port is exit 2 with one line (uvicorn would exit 1)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it small responses wait ~40 ms for the client's delayed ACK.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise InputError(
            f"cannot listen on {host}:{port} (serving.api.host, serving.api.port): {exc.strerror or exc}"
        ) from None
    return listener


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.serving.keys import env_entry, key_entry, load_keys, new_key

    if ctx.args.new_key:
        key, scopes = new_key(), tuple(ctx.args.scopes)
        return [
            f"key (give it to the client; only its digest is stored): {key}",
            "serving.api.keys entry:",
            *(f"  {line}" for line in key_entry(ctx.args.new_key, key, scopes).splitlines()),
            "or in the environment:",
            f"  {env_entry(ctx.args.new_key, key, scopes, ctx.config.serving.api.keys_env)}",
        ]

    import uvicorn

    from userscore.serving.app import create_app
    from userscore.serving.layout import snapshot_root
    from userscore.serving.store import SnapshotHolder
    from userscore.tags import load_dictionary

    config = ctx.config
    api = config.serving.api
    keys = load_keys(api)
    holder = SnapshotHolder(snapshot_root(config), api.reload_seconds)
    holder.refresh()
    ctx.logger.info(
        "serving %s on http://%s:%d with %d keys", holder.current_id or "no snapshot yet", api.host, api.port, len(keys)
    )
    app = create_app(api, keys, holder, load_dictionary(config.tags))
    listener = listening_socket(api.host, api.port)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=api.host,
            port=api.port,
            log_level=api.log_level,
            access_log=api.access_log,
            server_header=False,
        )
    )
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
        holder.close()
    return [f"served http://{api.host}:{api.port} until stopped (snapshot {holder.current_id or 'none'})"]
