"""``python -m ferlab``: the same command-line interface as the ``ferlab`` script."""

from ferlab.cli import main

main()
