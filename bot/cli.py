"""The `triage` command line. Each area registers its commands from bot/commands/<area>.py."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    help="Complaint intake and triage for social housing landlords.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per area; each defines register(app: typer.Typer).
COMMAND_MODULES = (
    "shell",
    "database",
    "deadlines",
    "report",
    "run",
    "classifier_cmds",
    "staff",
    "mail",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"bot.commands.{_name}").register(app)


if __name__ == "__main__":
    app()
