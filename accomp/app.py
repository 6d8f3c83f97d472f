"""`accomp` with no command: open the app, or say plainly what is not there yet."""

from __future__ import annotations

import argparse


def launch(args: argparse.Namespace) -> int:
    print(
        "accomp 0.1 — the desktop window, the real-time engine and the trained models are not "
        "built yet.\n"
        "What works today:\n"
        "  accomp data stats --corpus chorales             corpus statistics\n"
        "  accomp data stats --corpus pop909 --path DIR    (POP909 layout)\n"
        "  accomp eval --corpus chorales --split val        human vs baseline quality table\n"
        "Run 'accomp --help' for every command."
    )
    return 0
