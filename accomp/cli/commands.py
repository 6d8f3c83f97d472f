"""The adapter between a parsed command line and the command it runs: the command's module is
imported only when it runs, and gets typed options made from the flags of the same names."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import MISSING, fields


def typed(options: type, args: argparse.Namespace):
    """``options`` (a dataclass) made from the flags named as its fields; a field whose flag
    this command has not keeps its default."""
    values = {f.name: getattr(args, f.name) for f in fields(options) if f.init and hasattr(args, f.name)}
    missing = [f.name for f in fields(options) if f.init and f.name not in values and f.default is MISSING
               and f.default_factory is MISSING]  # fmt: skip
    if missing:
        raise TypeError(f"{options.__name__}: no flag for {', '.join(missing)}")
    return options(**values)


def command(module: str, func: str, options: str | None = None) -> Callable[[argparse.Namespace], int]:
    """The parser's handler for ``module.func``: with ``options`` (a class in ``module``),
    ``func`` gets them made by :func:`typed`; without, ``func`` is an adapter of this package
    and gets the flags themselves."""

    def run(args: argparse.Namespace) -> int:
        found = importlib.import_module(module)
        if options is None:
            return found.__dict__[func](args)
        return found.__dict__[func](typed(found.__dict__[options], args))

    run.target = (module, func, options)  # for the tests: what runs, with which options
    return run
