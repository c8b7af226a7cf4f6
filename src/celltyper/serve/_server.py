"""Running the web service: load an annotator from a folder or a built-in name, then serve it with uvicorn."""

from __future__ import annotations

from pathlib import Path

from celltyper.tl import Annotator

from ._app import MAX_UPLOAD_MB, create_app


def load_annotator(model: str) -> Annotator:
    """The annotator saved in the folder ``model``, or the built-in one of that name (:func:`celltyper.models.load`).

    Raises
    ------
    FileNotFoundError
        If ``model`` names a path (it has a ``/`` or exists) that is not a folder.
    """
    path = Path(model)
    if path.is_dir():
        return Annotator.load(path)
    if path.exists() or len(path.parts) > 1:
        raise FileNotFoundError(f"{model}: no such folder; pass a saved annotator's folder or a built-in name.")
    from celltyper import models

    return models.load(model)


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, max_upload_mb: float = MAX_UPLOAD_MB) -> None:
    """Serve the annotator ``model`` over HTTP until interrupted (``GET /health``, ``GET /model``, ``POST /annotate``).

    Parameters
    ----------
    model
        Folder of a saved annotator (:meth:`~celltyper.tl.Annotator.save`) or the name of a built-in one.
    host
        Address to listen on; the default answers this machine only, ``"0.0.0.0"`` every network interface.
    port
        TCP port to listen on.
    max_upload_mb
        Largest upload accepted, in MiB (default 1 GiB); larger ones are refused with a 413.

    Raises
    ------
    FileNotFoundError, ValueError
        If the annotator cannot be loaded (no such folder or name, a damaged folder), before anything is served.
    """
    import uvicorn

    if not max_upload_mb > 0:
        raise ValueError(f"max_upload_mb must be positive, not {max_upload_mb!r}.")
    app = create_app(load_annotator(model), max_upload_bytes=round(max_upload_mb * 2**20))
    uvicorn.run(app, host=host, port=port)
