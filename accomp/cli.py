"""The one argparse tree of accomp. Subcommands import their heavy modules lazily."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from accomp import __version__
from accomp.errors import AccompError


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (usage hint on the same line), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _lazy(module: str, func: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import importlib

        return importlib.import_module(module).__dict__[func](args)

    return run


def _add_corpus_args(p: argparse.ArgumentParser, *, required: bool, multiple: bool = False) -> None:
    p.add_argument(
        "--corpus",
        choices=["pop909", "chorales", "midi-folder"],
        required=required,
        action="append" if multiple else "store",
        help="corpus kind (pop909: a folder in POP909 layout; chorales: music21's Bach "
        "chorales; midi-folder: any folder of .mid files)",
    )
    p.add_argument(
        "--path",
        action="append" if multiple else "store",
        help="corpus folder (pop909, midi-folder); repeat once per --corpus when several",
    )
    p.add_argument("--style", help="style name for a midi-folder corpus (default: the folder name)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the on-disk cache")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="accomp", description="accomp: an AI band mate that plays along with you.")
    parser.add_argument("--version", action="version", version=f"accomp {__version__}")
    parser.set_defaults(func=_lazy("accomp.app", "launch"))
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("launch", help="open the app (the default when no command is given)")
    p.set_defaults(func=_lazy("accomp.app", "launch"))

    data = sub.add_parser("data", help="corpus tools")
    data_sub = data.add_subparsers(title="data commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = data_sub.add_parser("stats", help="pieces, frames, hours, ranges and skipped files of a corpus")
    _add_corpus_args(p, required=True)
    p.add_argument("--json", metavar="FILE", help="also write the statistics as JSON")
    p.set_defaults(func=_lazy("accomp.music.stats", "data_stats"))

    p = sub.add_parser("eval", help="quality metrics: human reference vs baselines (vs model outputs)")
    p.add_argument("files", nargs="*", help="MIDI files with tracks 'lead' and 'accomp' (e.g. model outputs)")
    _add_corpus_args(p, required=False)
    p.add_argument("--split", choices=["train", "val", "all"], default="val")
    p.add_argument("--max-pieces", type=int, default=None, help="evaluate at most this many pieces")
    p.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    p.set_defaults(func=_lazy("accomp.music.evaluate", "evaluate"))

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AccompError as exc:
        print(f"accomp: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("accomp: interrupted", file=sys.stderr)
        return 130
