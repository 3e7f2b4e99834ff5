"""The ``ferlab`` command line: one Typer app (``ferlab.cli:app``), one sub-command per job; ``main`` runs it.

The package, one module per concern:

- `ferlab.cli.options`: the options commands share (``--model``, ``--detector``, ``--prior``...), and the
  flags generated from a settings dataclass's fields and constraints (`with_settings_options`);
- `ferlab.cli.application`: predict, demo, video, serve; torch-free, importing nothing of the research layer;
- `ferlab.cli.research`: train, eval, eval-detector, models, compare, sweep, export, explain;
- `ferlab.cli.datasets`: the ``ferlab data`` sub-app;
- `ferlab.cli.tables`: the consoles and the result tables;
- `ferlab.cli.commands`: the app itself, its commands in order, and `main`.

``app`` and ``main`` load on first use, so a sub-app (`ferlab.monitor.cli`) imports `ferlab.cli.options`
without pulling in the app that includes it.
"""

from ferlab.lazy import lazy_exports

__all__ = ["app", "main"]
__getattr__ = lazy_exports(__name__, {"app": "ferlab.cli.commands", "main": "ferlab.cli.commands"})
