"""Built-in annotators that ship inside the package: list them, find them, load them; nothing is downloaded.

>>> import celltyper as ct
>>> ct.models.available()
['pbmc']
>>> annotator = ct.models.load("pbmc")  # a celltyper.Annotator

Each one is a folder saved by :meth:`celltyper.Annotator.save` (its ``model_card.md`` says what it was fitted on and
how it did on cells it was not fitted on); ``scripts/build_models.py`` rebuilds them from the real data.
"""

from ._builtin import available, load, path

__all__ = ["available", "load", "path"]
