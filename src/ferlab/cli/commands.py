"""The ``ferlab`` Typer app: the root, its sub-commands in the order ``ferlab --help`` lists them, and `main`.

Every `FerlabError` a command raises is printed on one line and turned into exit code 2;
no traceback reaches the user for input they can fix.

The research commands (`ferlab.cli.research`, whose flags are generated from the training
settings) load only when one of them runs or the command list is shown: ``ferlab predict``
never imports the research layer, not even its settings.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from ferlab.cli import application
from ferlab.cli.datasets import data_app
from ferlab.cli.tables import console, err_console
from ferlab.errors import FerlabError
from ferlab.interrupts import handle_termination, interrupted_exit_code
from ferlab.monitor.cli import monitor_app
from ferlab.version import package_version

RESEARCH_COMMANDS: dict[str, str] = {
    "train": "train_command",
    "eval": "eval_command",
    "eval-detector": "eval_detector_command",
    "models": "models_command",
    "compare": "compare_command",
    "sweep": "sweep_command",
    "export": "export_command",
    "soup": "soup_command",
    "explain": "explain_command",
}
"""The research commands: name -> function in `ferlab.cli.research`."""
ORDER = ("data", "monitor", "train", "eval", "eval-detector", "models", "compare", "sweep")
ORDER += ("predict", "demo", "video", "export", "soup", "explain", "serve")
"""The commands in the order ``ferlab --help`` lists them."""


class LazyResearchGroup(TyperGroup):
    """The root group: the application commands are registered as usual; a research command is
    built from `ferlab.cli.research` the first time it is asked for."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(ORDER)

    def get_command(self, ctx: typer.Context, name: str) -> TyperCommand | TyperGroup | None:
        if name in RESEARCH_COMMANDS and name not in self.commands:
            research = importlib.import_module("ferlab.cli.research")
            built = typer.Typer()
            for command, function in RESEARCH_COMMANDS.items():
                built.command(command)(getattr(research, function))
            group = typer.main.get_group(built)
            for command in RESEARCH_COMMANDS:
                self.add_command(group.commands[command], command)
        return super().get_command(ctx, name)


app = typer.Typer(
    cls=LazyResearchGroup,
    name="ferlab",
    help="Facial expression recognition: data, models, training, evaluation, faces.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _show_version(value: bool) -> None:
    if value:
        console.print(f"ferlab {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Facial expression recognition toolkit."""


app.add_typer(data_app, name="data")
app.add_typer(monitor_app, name="monitor")
for name, command in (
    ("predict", application.predict_command),
    ("demo", application.demo_command),
    ("video", application.video_command),
    ("serve", application.serve_command),
):
    app.command(name)(command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turning `FerlabError` into a one-line error.

    SIGTERM and SIGHUP stop it as Ctrl+C does (`ferlab.interrupts`)."""
    try:
        with handle_termination():
            app(args=argv, prog_name="ferlab")
    except FerlabError as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        sys.exit(interrupted_exit_code())
