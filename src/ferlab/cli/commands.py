"""The ``ferlab`` Typer app: the root, its sub-commands in the order ``ferlab --help`` lists them, and `main`.

Every `FerlabError` a command raises is printed on one line and turned into exit code 2;
no traceback reaches the user for input they can fix.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from ferlab.cli import application, research
from ferlab.cli.datasets import data_app
from ferlab.cli.tables import console, err_console
from ferlab.errors import FerlabError
from ferlab.interrupts import handle_termination, interrupted_exit_code
from ferlab.monitor.cli import monitor_app
from ferlab.version import package_version

app = typer.Typer(
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
    ("train", research.train_command),
    ("eval", research.eval_command),
    ("eval-detector", research.eval_detector_command),
    ("models", research.models_command),
    ("compare", research.compare_command),
    ("sweep", research.sweep_command),
    ("predict", application.predict_command),
    ("demo", application.demo_command),
    ("video", application.video_command),
    ("export", research.export_command),
    ("explain", research.explain_command),
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
