"""An HTTP API around a saved annotator: ``python -m celltyper.serve --model DIR|NAME`` (needs the ``serve`` extra)."""

from importlib.util import find_spec

if any(find_spec(name) is None for name in ("fastapi", "uvicorn", "python_multipart")):
    raise ImportError('celltyper.serve needs FastAPI, uvicorn and python-multipart: pip install "celltyper[serve]"')

from ._app import create_app
from ._server import load_annotator, serve

__all__ = ["create_app", "load_annotator", "serve"]
