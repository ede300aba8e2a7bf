"""The staff triage console (/staff): queues, case handling, self-assessment, users.

`install(app)` mounts the router and the two handlers that turn "not logged in" into a
redirect to the login page and "not allowed" into a plain 403 page.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from intake.auth import Forbidden, LoginRequired
from intake.console.rendering import PageNotFound


def install(app: FastAPI) -> None:
    from intake.console.rendering import render  # noqa: F811
    from intake.console.routes import router

    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/staff/login?next={exc.next_path}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "error.html", status_code=403, title="You cannot do this", message=exc.message)

    @app.exception_handler(PageNotFound)
    async def _not_found(request: Request, exc: PageNotFound) -> Response:
        return render(
            request,
            "error.html",
            status_code=404,
            title="Page not found",
            message="There is no page at this address. Case pages are opened from a queue or a search.",
        )
