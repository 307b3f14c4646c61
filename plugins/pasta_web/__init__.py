"""The PASTA web app: personalized sessions for people, and rater studies with the
paper's evaluation phase (``pasta serve``, ``pasta sessions export``).

Documented in docs/web-app.md. FastAPI and uvicorn are imported only when a command runs.
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl


@hookimpl
def pasta_register_commands(cli: Any) -> None:
    from pasta_web.cli import serve_command, sessions_group

    cli.add_command(serve_command)
    cli.add_command(sessions_group)
