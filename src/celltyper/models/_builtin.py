"""Where the built-in annotators live (one saved annotator folder each, next to this module) and how to read them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celltyper.tl import Annotator

_HERE = Path(__file__).resolve().parent
_MANIFEST = "annotator.json"


def available() -> list[str]:
    """The names of the built-in annotators, sorted.

    Returns
    -------
    Names to pass to :func:`load` or :func:`path`.
    """
    return sorted(folder.name for folder in _HERE.iterdir() if (folder / _MANIFEST).is_file())


def path(name: str) -> Path:
    """The folder of the built-in annotator ``name``.

    Parameters
    ----------
    name
        One of :func:`available`.

    Returns
    -------
    The saved annotator folder (read it with :meth:`celltyper.Annotator.load`, copy it to share it).

    Raises
    ------
    ValueError
        If there is no built-in annotator of that name.
    """
    names = available()
    if name not in names:
        raise ValueError(
            f"No built-in annotator named {name!r}; the built-in ones are {names}. "
            "To read an annotator you saved yourself, use celltyper.Annotator.load(folder)."
        )
    return _HERE / name


def load(name: str) -> Annotator:
    """The built-in annotator ``name``, read from the package (nothing is downloaded).

    Parameters
    ----------
    name
        One of :func:`available`.

    Returns
    -------
    The :class:`~celltyper.Annotator`; its ``card`` says what it was fitted on and how it was evaluated.

    Raises
    ------
    ValueError
        If there is no built-in annotator of that name.
    """
    from celltyper.tl import Annotator

    return Annotator.load(path(name))
