"""The look-up API (FastAPI): users, tags, segments and changes from the published snapshot.

Every data endpoint needs an ``X-API-Key`` whose scope covers it (401 without a valid key, 403 without the
scope); tags marked ``restricted`` in the dictionary reach only keys with ``restricted:read``. Unknown ids
and ids a key may not see are the same 404. Malformed parameters are a 400 naming the parameter (never
echoing the value); an unexpected error is a bare 500, its traceback only in the server log.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' Annotated parameters at definition
# time, and they refer to this factory's locals (the scope checks, the configured page sizes).
import base64
import binascii
import calendar
import json
import logging
import re
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from userscore.config.serving import ApiConfig
from userscore.serving.keys import ApiKey, KeyRing
from userscore.serving.store import Change, Snapshot, SnapshotHolder
from userscore.tags import Tag, TagDictionary

logger = logging.getLogger("userscore.serve")

SCORES, SEGMENTS, RESTRICTED = "scores:read", "segments:read", "restricted:read"
NAME = r"^[a-z][a-z0-9_]{0,63}$"  # tag, family and segment ids (lower_snake_case in config)
MAX_CURSOR = 512
MAX_VERSION = 2**62
NOT_FOUND = {"detail": "not found"}


def _tag_json(tag: Tag) -> dict[str, Any]:
    d = tag.definition
    definition: dict[str, Any] = {"kind": tag.kind, "text": tag.definition_text}
    if d.rule is not None:
        definition["rule"] = d.rule
    else:
        definition["column"] = d.column
        if d.bins is not None:
            definition["bins"] = {"edges": list(d.bins.edges), "labels": list(d.bins.labels)}
    return {
        "id": tag.id,
        "name": tag.name,
        "category": tag.category,
        "definition": definition,
        "owner": tag.owner,
        "refresh": tag.refresh,
        "sensitivity": tag.sensitivity,
        "description": tag.description,
    }


def encode_cursor(change: Change) -> str:
    raw = json.dumps([change.commit_version, change.user_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


class UrlLimit:
    """ASGI middleware: a request whose path plus query string exceeds ``limit`` bytes is a 414, unread."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if scope["type"] == "http" and size > self.limit:
            response = JSONResponse({"detail": f"request URL longer than {self.limit} bytes"}, status_code=414)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(api: ApiConfig, keys: KeyRing, holder: SnapshotHolder, dictionary: TagDictionary) -> FastAPI:
    """The app over ``holder``'s snapshot; ``keys`` and ``dictionary`` are fixed for its lifetime."""
    user_id_rule = re.compile(api.user_id_pattern)
    restricted_tags = frozenset(t.id for t in dictionary if t.sensitivity == "restricted")
    app = FastAPI(
        title="userscore look-up API",
        description=(
            "Scores, tiers, tags, reasons, segments and model versions of one user; tag definitions; segment "
            "members; changes of the tag wide table since a version. Served from the snapshot `userscore "
            "snapshot` publishes after each score run. Send the key in the `X-API-Key` header."
        ),
        version="1",
    )
    app.add_middleware(UrlLimit, limit=api.max_url_bytes)
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (serving.api.keys)")

    def authorised(scope: str):
        # async: FastAPI runs a plain function dependency in its thread pool, a hop per request.
        async def check(presented: Annotated[str | None, Depends(header)]) -> ApiKey:
            key = keys.find(presented)
            if key is None:
                raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "X-API-Key"})
            if scope not in key.scopes:
                raise HTTPException(403, f"this key lacks the scope {scope}")
            return key

        return check

    def snapshot() -> Snapshot:
        current = holder.get()
        if current is None:
            raise HTTPException(503, "no snapshot published yet")
        return current

    def visible_tags(tags: dict[str, Any], extra: dict[str, Any] | None, key: ApiKey) -> dict[str, Any]:
        # Both checks: the build split the tags by the dictionary it saw, and the dictionary served now may
        # mark more tags restricted.
        if RESTRICTED in key.scopes:
            return {**tags, **(extra or {})}
        return {k: v for k, v in tags.items() if k not in restricted_tags}

    def document(doc: dict[str, Any], extra: dict[str, Any] | None, key: ApiKey) -> dict[str, Any]:
        return {**doc, "tags": visible_tags(doc.get("tags") or {}, extra, key)}

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"parameter": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "invalid request", "problems": problems}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("error serving %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/health", tags=["operations"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="Readiness: a snapshot is loaded (503 until one is)")
    async def ready() -> JSONResponse:
        current = holder.get()
        if current is None:
            return JSONResponse({"status": "not ready", "detail": "no snapshot published yet"}, status_code=503)
        m = current.manifest
        built = calendar.timegm(time.strptime(m["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
        age = max(0.0, time.time() - built)
        return JSONResponse(
            {
                "status": "ready",
                "snapshot": current.id,
                "as_of_date": m["as_of_date"],
                "wide_table_version": m["source"]["version"],
                "age_seconds": round(age),
                "stale": age > api.stale_hours * 3600,
            }
        )

    @app.get("/v1/users/{user_id}", tags=["users"], summary="One user's scores, tiers, tags, reasons, segments")
    async def user(
        user_id: Annotated[str, Path(max_length=256)],
        key: Annotated[ApiKey, Depends(authorised(SCORES))],
    ) -> JSONResponse:
        if not user_id_rule.match(user_id):
            raise HTTPException(400, "user_id: not a valid user id")
        current = snapshot()
        record = current.user(user_id)
        if record is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        body = document(record.doc, record.restricted, key)
        body["segments"] = record.segments
        body["snapshot"] = {"id": current.id, "wide_table_version": current.manifest["source"]["version"]}
        return JSONResponse(body)

    @app.get("/v1/tags", tags=["tags"], summary="The tag dictionary (restricted tags for restricted:read keys)")
    async def tags(key: Annotated[ApiKey, Depends(authorised(SCORES))]) -> JSONResponse:
        shown = [_tag_json(t) for t in dictionary if t.id not in restricted_tags or RESTRICTED in key.scopes]
        return JSONResponse({"tags": shown})

    @app.get("/v1/tags/{tag_id}", tags=["tags"], summary="One tag's definition and governance record")
    async def tag(
        tag_id: Annotated[str, Path(pattern=NAME)],
        key: Annotated[ApiKey, Depends(authorised(SCORES))],
    ) -> JSONResponse:
        found = next((t for t in dictionary if t.id == tag_id), None)
        if found is None or (found.id in restricted_tags and RESTRICTED not in key.scopes):
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse(_tag_json(found))

    @app.get("/v1/segments", tags=["segments"], summary="Segment families, segments and member counts")
    async def segments(_: Annotated[ApiKey, Depends(authorised(SEGMENTS))]) -> JSONResponse:
        current = snapshot()
        m = current.manifest
        return JSONResponse({"as_of_date": m["segments_as_of"], "families": m["segments"]})

    @app.get(
        "/v1/segments/{family}/{segment}/members",
        tags=["segments"],
        summary="Members of a segment, by user_id; pass `next_after` back as `after` for the next page",
    )
    async def members(
        family: Annotated[str, Path(pattern=NAME)],
        segment: Annotated[str, Path(pattern=NAME)],
        _: Annotated[ApiKey, Depends(authorised(SEGMENTS))],
        after: Annotated[str | None, Query(max_length=256, description="last user_id of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=api.max_page_size)] = api.page_size,
    ) -> JSONResponse:
        if after and not user_id_rule.match(after):
            raise HTTPException(400, "after: not a valid user id")
        current = snapshot()
        if segment not in current.manifest["segments"].get(family, {}):
            return JSONResponse(NOT_FOUND, status_code=404)
        page = current.members(family, segment, after or "", limit)
        return JSONResponse(
            {
                "family": family,
                "segment": segment,
                "as_of_date": current.manifest["segments_as_of"],
                "members": page,
                "next_after": page[-1]["user_id"] if len(page) == limit else None,
            }
        )

    def _cursor(text: str, since: int) -> tuple[int, str]:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            version, user_id = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise HTTPException(400, "cursor: not a cursor this API returned") from None
        valid = (
            isinstance(version, int)
            and since <= version <= MAX_VERSION
            and isinstance(user_id, str)
            and user_id_rule.match(user_id)
        )
        if not valid:
            raise HTTPException(400, "cursor: not a cursor this API returned")
        return version, user_id

    @app.get(
        "/v1/changes",
        tags=["changes"],
        summary="Users whose wide-table row changed after version `since` (its Change Data Feed)",
        description=(
            "One entry per user, at its last change: an upsert carries the user's document as of "
            "`wide_table_version`, a delete (an erasure) only the id. Page with `cursor` = the previous page's "
            "`next_cursor` until it is null, then store `wide_table_version` as the next `since`. 410 when "
            "`since` is older than the changes this snapshot keeps: re-sync from the users."
        ),
    )
    async def changes(
        key: Annotated[ApiKey, Depends(authorised(SCORES))],
        since: Annotated[int, Query(ge=-1, le=MAX_VERSION, description="last wide-table version already seen")],
        cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
        limit: Annotated[int, Query(ge=1, le=api.max_page_size)] = api.page_size,
    ) -> JSONResponse:
        after = None if cursor is None else _cursor(cursor, since)
        current = snapshot()
        window = current.manifest["changes"]
        if not window["available"]:
            return JSONResponse({"detail": "this snapshot carries no changes (Change Data Feed off)"}, status_code=410)
        if since < window["from_version"] - 1:
            first = window["from_version"]
            detail = f"changes are kept from version {first}: since must be >= {first - 1}"
            return JSONResponse({"detail": detail}, status_code=410)
        page = current.changes(since, after, limit)
        rows = [
            {
                "commit_version": c.commit_version,
                "commit_timestamp": c.commit_timestamp,
                "change": c.change_type,
                "user_id": c.user_id,
                **({} if c.doc is None else {"row": document(c.doc, c.restricted, key)}),
            }
            for c in page
        ]
        return JSONResponse(
            {
                "since": since,
                "wide_table_version": window["to_version"],
                "changes": rows,
                "next_cursor": encode_cursor(page[-1]) if len(page) == limit else None,
            }
        )

    return app
