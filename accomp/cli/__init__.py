"""The command line: the one argparse tree (:mod:`accomp.cli.parser`) and the adapters that
turn its flags into typed settings (:mod:`accomp.cli.engine` for `play` and `render`,
:mod:`accomp.cli.commands` for the rest). Below this package nothing reads argparse."""

from accomp.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
