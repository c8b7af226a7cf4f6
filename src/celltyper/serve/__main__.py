"""``python -m celltyper.serve --model DIR|NAME``: serve an annotator over HTTP until interrupted."""

from __future__ import annotations

import argparse

from ._app import MAX_UPLOAD_MB
from ._server import serve


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve; an annotator that cannot be loaded is an error message and exit status 2."""
    parser = argparse.ArgumentParser(
        prog="python -m celltyper.serve",
        description="Annotate uploaded .h5ad / 10x .h5 files over HTTP: GET /health, GET /model, POST /annotate.",
    )
    parser.add_argument("--model", required=True, help="folder of a saved annotator, or the name of a built-in one")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for every interface")
    parser.add_argument("--port", type=int, default=8000, help="TCP port to listen on (default: 8000)")
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=MAX_UPLOAD_MB,
        help=f"largest upload accepted, in MiB; larger ones get a 413 (default: {MAX_UPLOAD_MB})",
    )
    args = parser.parse_args(argv)
    try:
        serve(args.model, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb)
    except (FileNotFoundError, ValueError, ModuleNotFoundError) as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
