"""Command-line options shared by `ferlab.cli` and its sub-apps (`ferlab.monitor.cli`)."""

from __future__ import annotations

import typer

from ferlab.priors import DEFAULT_PRIOR

PriorOption = typer.Option(
    DEFAULT_PRIOR,
    "--prior",
    help="Operating point: data (classes in the shares the model was trained on: most accurate on such data) or "
    "balanced (every class equally likely: the rare expressions, disgust, fear, contempt, are named more often); "
    "probabilities are calibrated at either. See the README, 'Operating point'.",
)
