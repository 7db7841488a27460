"""The ``model`` package under a name nothing else is likely to use.

``from model import load_model`` is the contract, but ``model`` is a common name: a ``model.py``
(or ``model/``) in the current directory comes first on ``sys.path`` for ``python -c``, ``-m``,
the REPL and Jupyter, and shadows the installed package. ``from leg_pain_model import
load_model`` loads the same code from the installed package's own directory, whatever is on
``sys.path``::

    >>> from leg_pain_model import load_model
    >>> m = load_model()

This module replaces itself in ``sys.modules`` with the package found beside it, imported under
this name (so ``leg_pain_model.exchange``, ``leg_pain_model.api`` ... work, and objects pickled
here unpickle wherever the distribution is installed).
"""
import importlib.util
import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent / "model"
_spec = importlib.util.spec_from_file_location(
    __name__, _PACKAGE / "__init__.py", submodule_search_locations=[str(_PACKAGE)])
_module = importlib.util.module_from_spec(_spec)
sys.modules[__name__] = _module
_spec.loader.exec_module(_module)
