"""The REST service and its web page: ``ferlab serve`` (needs ``pip install "ferlab[serve]"``).

Example::

    from ferlab.serve.app import create_app
    from ferlab.serve.settings import ServeSettings
    app = create_app(ServeSettings(max_upload_mb=5))   # an ASGI app: run it with uvicorn

Endpoints: ``POST /v1/analyze``, ``POST /v1/analyze/batch``, ``GET /v1/models``,
``GET /healthz``, the page at ``/`` and the OpenAPI docs at ``/docs``.
"""

from __future__ import annotations

import importlib

from ferlab.errors import FerlabError

REQUIRED_MODULES = ("fastapi", "uvicorn", "python_multipart")
"""What the ``serve`` extra installs, by import name."""


def check_installed() -> None:
    """`FerlabError` naming the install command when the ``serve`` extra is missing."""
    for name in REQUIRED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise FerlabError(f'the REST service needs {name}: pip install "ferlab[serve]"') from None
