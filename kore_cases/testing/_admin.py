"""The fake server's admin HTTP endpoint: change cases from another process while it runs.

For tests and demos that drive ``kore-cases serve`` from outside (a shell, another
language). Not part of Kore's API; it needs no token, so bind the fake server to loopback.
JSON in, JSON out; errors are Kore-shaped (``{"errors": [{"msg", "code"}]}``)::

    POST   /_admin/cases                {"count": 3, "sameMillisecond": false, "hidden": false}
                                        -> 201 {"ids": ["ci-…", …]}   (oldest first)
    GET    /_admin/cases/{id}           -> 200 the case as getCases would send it
    PATCH  /_admin/cases/{id}           {"status": "In Progress", "priority": "High",
                                         "assignee": "Maya Chen" | null} -> 200 the case
    POST   /_admin/cases/{id}/resolve   -> 200 the case, now Resolved
    POST   /_admin/cases/{id}/reveal    -> 200 a hidden case, now listed
    DELETE /_admin/cases/{id}           -> 204
    GET    /_admin/stats                -> 200 {"requests", "rateLimited", "statuses", "cases"}

Admin requests are not getCases requests: they do not count in ``stats`` nor take a
rate-limit slot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from .._checks import whole_number
from ._mutations import UNCHANGED
from ._pages import json_object
from ._records import kore_error

if TYPE_CHECKING:
    from ._server import FakeKoreServer

__all__ = ["ADMIN_PREFIX", "add_admin_routes"]

ADMIN_PREFIX = "/_admin"
"""Where the admin routes live on a ``FakeKoreServer`` (``server.url + ADMIN_PREFIX``)."""
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(status: int, payload: Any) -> web.Response:
    return web.Response(
        status=status, body=msgspec.json.encode(payload), content_type="application/json"
    )


def _problem(status: int, message: str) -> web.Response:
    return web.Response(
        status=status, body=kore_error(status, message), content_type="application/json"
    )


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object sent (``{}`` for an empty body), as getCases reads its body."""
    value = json_object(await request.read())
    if value is None:
        raise ValueError("the body must be a JSON object")
    return value


def _guarded(handler: _Handler) -> _Handler:
    """Map the mutation API's KeyError/ValueError/TypeError to 404/400 answers."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except KeyError as exc:
            return _problem(404, str(exc.args[0]) if exc.args else "no such case")
        except (ValueError, TypeError) as exc:
            return _problem(400, str(exc))

    return run


class _Routes:
    """The handlers, over one server."""

    def __init__(self, server: FakeKoreServer) -> None:
        self.server = server

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        count = whole_number("count", body.get("count", 1), 1)
        flags = {key: body.get(key, False) for key in ("sameMillisecond", "hidden")}
        if not all(isinstance(flag, bool) for flag in flags.values()):
            raise ValueError("sameMillisecond and hidden must be true or false")
        ids = self.server.create_cases(
            count, same_millisecond=flags["sameMillisecond"], hidden=flags["hidden"]
        )
        return _json(201, {"ids": ids})

    async def show(self, request: web.Request) -> web.StreamResponse:
        case_id = request.match_info["case_id"]
        case = self.server.get_case(case_id)
        if case is None:
            raise KeyError(f"no case with id {case_id!r}")
        return _json(200, case)

    async def update(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        unknown = set(body) - {"status", "priority", "assignee"}
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}: use status, priority, assignee")
        for key in ("status", "priority"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise ValueError(f"{key} must be a string")
        assignee = body.get("assignee", UNCHANGED)
        if assignee is not UNCHANGED and assignee is not None and not isinstance(assignee, str):
            raise ValueError("assignee must be an agent's name or null")
        case = self.server.update_case(
            request.match_info["case_id"],
            status=body.get("status"),
            priority=body.get("priority"),
            assignee=assignee,
        )
        return _json(200, case)

    async def resolve(self, request: web.Request) -> web.StreamResponse:
        return _json(200, self.server.resolve_case(request.match_info["case_id"]))

    async def reveal(self, request: web.Request) -> web.StreamResponse:
        return _json(200, self.server.reveal_case(request.match_info["case_id"]))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        self.server.delete_case(request.match_info["case_id"])
        return web.Response(status=204)

    async def stats(self, request: web.Request) -> web.StreamResponse:
        s = self.server.stats
        return _json(
            200,
            {
                "requests": s.requests,
                "rateLimited": s.rate_limited,
                "statuses": {str(k): v for k, v in sorted(s.statuses.items())},
                "cases": self.server.total_cases,
            },
        )


def add_admin_routes(app: web.Application, server: FakeKoreServer) -> None:
    """Register the admin routes for ``server`` on ``app``."""
    routes = _Routes(server)
    case = ADMIN_PREFIX + "/cases/{case_id}"
    app.router.add_post(ADMIN_PREFIX + "/cases", _guarded(routes.create))
    app.router.add_get(case, _guarded(routes.show))
    app.router.add_patch(case, _guarded(routes.update))
    app.router.add_post(case + "/resolve", _guarded(routes.resolve))
    app.router.add_post(case + "/reveal", _guarded(routes.reveal))
    app.router.add_delete(case, _guarded(routes.delete))
    app.router.add_get(ADMIN_PREFIX + "/stats", _guarded(routes.stats))
