"""``python -m ferlab.cli`` (``torchrun -m ferlab.cli train ...``): the ``ferlab`` command."""

from ferlab.cli import main

main()
