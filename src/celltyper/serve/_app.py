"""The web service: ``GET /health``, ``GET /model`` (the model card) and ``POST /annotate`` around one annotator.

An upload is limited in size while it streams in (:class:`UploadLimit`: a 413 before the rest is read), written
to a temporary folder that is deleted when the request ends, read by :func:`read_upload` and annotated. Every refusal
is a 4xx with ``{"detail": "..."}`` saying why; an unexpected error is logged on the server and answered with a 500
that shows no traceback.

Uploads are received and read concurrently (FastAPI runs the endpoint in its thread pool); the annotations then run
one at a time on one thread (:func:`annotation_thread` says why), so concurrent requests cannot mix results.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from celltyper import _keys as keys
from celltyper.tl import Annotator

from ._annotation_thread import annotation_thread
from ._read_upload import UploadError, read_upload
from ._upload_limit import UploadLimit

#: Default largest request body, in MiB.
MAX_UPLOAD_MB = 1024
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 2**20
#: An upload's datasets may take this many times its size once uncompressed (a dense matrix of counts compresses
#: about 30-fold; more is refused as a probable decompression bomb).
DATA_PER_UPLOADED_BYTE = 50
COLUMNS = ("cell", "prediction", "confidence", "novelty")

logger = logging.getLogger("celltyper.serve")


def create_app(annotator: Annotator, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """A FastAPI app that annotates uploaded files with ``annotator``.

    Parameters
    ----------
    annotator
        The fitted annotator (:meth:`~celltyper.tl.Annotator.load`).
    max_upload_bytes
        Largest request body accepted (the file and its multipart framing); larger uploads get a 413 as soon as
        their size is announced or exceeded, without being read further.

    Returns
    -------
    The app; run it with uvicorn (:func:`~celltyper.serve.serve` does) or test it with FastAPI's ``TestClient``.
    """
    if isinstance(max_upload_bytes, bool) or not isinstance(max_upload_bytes, int) or max_upload_bytes < 1:
        raise ValueError(f"max_upload_bytes must be a positive number of bytes, not {max_upload_bytes!r}.")
    name = annotator.card.get("name") or "an annotator"
    worker = annotation_thread()
    app = FastAPI(title="celltyper", summary=f"Cell-type annotation with {name}.")
    app.add_middleware(UploadLimit, max_bytes=max_upload_bytes)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def server_error(request: Request, error: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path, exc_info=error)
        return JSONResponse({"detail": "Internal server error; the server's log has the details."}, status_code=500)

    @app.get("/health")
    def health() -> dict[str, str]:
        """Whether the server is up."""
        return {"status": "ok"}

    @app.get("/model")
    def model() -> dict[str, Any]:
        """The annotator's model card: reference, cell types, genes, held-out accuracy, calibration, versions."""
        return annotator.card

    @app.post("/annotate", response_model=None)
    def annotate(
        file: Annotated[UploadFile, File(description="An .h5ad file or a 10x .h5 file of raw counts.")],
        format: Annotated[Literal["json", "csv"], Query(description="Answer as JSON or as CSV.")] = "json",
    ) -> dict[str, list[dict[str, Any]]] | Response:
        """The prediction, confidence and novelty of every cell of the uploaded file."""
        table = _annotate_upload(annotator, file, worker, DATA_PER_UPLOADED_BYTE * max_upload_bytes)
        if format == "csv":
            return Response(table.to_csv(index=False), media_type="text/csv")
        return {"cells": table.to_dict(orient="records")}

    return app


def _annotate_upload(
    annotator: Annotator, file: UploadFile, worker: ThreadPoolExecutor, max_data_bytes: int
) -> pd.DataFrame:
    """The :data:`COLUMNS` for every cell of ``file``; an :class:`HTTPException` with status 4xx for a bad upload."""
    with tempfile.TemporaryDirectory(prefix="celltyper-upload-") as folder:
        path = Path(folder) / "upload"
        with path.open("wb") as copy:
            shutil.copyfileobj(file.file, copy)
        try:
            query = read_upload(path, max_data_bytes)
        except UploadError as error:
            raise HTTPException(error.status, str(error)) from error
    try:
        worker.submit(annotator.annotate, query, progress_bar=False).result()
    except (ValueError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        raise HTTPException(422, str(message)) from error
    return pd.DataFrame(
        {
            "cell": query.obs_names.astype(str),
            "prediction": query.obs[keys.prediction_key()].astype(str).to_numpy(),
            "confidence": query.obs[keys.confidence_key()].to_numpy(dtype=float),
            "novelty": query.obs[keys.novelty_key()].to_numpy(dtype=float),
        },
        columns=list(COLUMNS),
    )
