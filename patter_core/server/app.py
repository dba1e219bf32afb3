"""The quart application: ``GET /health`` and the carriers' webhook routes, adapted to
:class:`~patter_core.server.http.HttpRequest` / :class:`~patter_core.server.http.HttpResponse`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from quart import Quart, Response, request

from patter_core.interfaces.carrier import HttpHandler
from patter_core.server.asgi import _PARAM
from patter_core.server.http import MAX_BODY_BYTES, BadRequest, HttpRequest, HttpResponse

__all__ = ["create_http_app"]

log = logging.getLogger("patter.server")


def create_http_app(health: Callable[[], dict[str, Any]]) -> Quart:
    app = Quart("patter")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False

    @app.get("/health")
    async def _health() -> Response:
        import json

        return Response(json.dumps(health()), content_type="application/json")

    return app


def add_http_route(app: Quart, template: str, handler: HttpHandler, methods: tuple[str, ...]) -> None:
    """Mount a carrier handler; ``{name}`` path segments become ``request.path_params``."""
    quart_path = _PARAM.sub(lambda m: f"<{m.group(1)}>", template)

    async def view(**path_params: str) -> Response:
        try:
            body = await request.get_data(cache=False)
        except Exception:  # body over MAX_CONTENT_LENGTH or a broken upload
            return Response("request body too large or unreadable", status=413)
        req = HttpRequest(
            method=request.method,
            path=request.path,
            query_string=request.query_string.decode("latin-1"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body if isinstance(body, bytes) else body.encode(),
            path_params=path_params,
            remote_addr=request.remote_addr,
        )
        try:
            result = await handler(req)
        except BadRequest as exc:
            log.warning("bad request on %s: %s", request.path, exc)
            return Response(f"bad request: {exc}", status=400)
        except Exception:
            log.exception("handler for %s failed", request.path)
            return Response("internal error", status=500)
        return _to_quart(result)

    view.__name__ = f"patter_{template}_{'_'.join(methods)}"
    app.add_url_rule(quart_path, endpoint=view.__name__, view_func=view, methods=list(methods))


def _to_quart(result: HttpResponse) -> Response:
    response = Response(result.body, status=result.status, content_type=result.content_type)
    for name, value in result.headers.items():
        response.headers[name] = value
    return response
