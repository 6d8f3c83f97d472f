"""The user-facing error family: each carries a one-line message; `cli.py` prints it."""

import os
import tempfile
from pathlib import Path


class AccompError(Exception):
    """Base class: a problem the user can act on, described in one line."""

    exit_code = 1

    def __str__(self) -> str:
        text = super().__str__()
        return " ".join(text.split())  # always one line


class MidiFileError(AccompError):
    """A MIDI file that cannot be read or has nothing usable in it."""


class AudioFileError(AccompError):
    """A sound file (an audio lead to accompany) that cannot be read or has no audio in it."""


class CorpusError(AccompError):
    """A corpus that cannot be found, read or is empty."""


class CheckpointError(AccompError):
    """A missing, truncated, foreign or wrong-version model checkpoint."""


class PresetError(AccompError):
    """A style preset that cannot be loaded or does not match its teacher."""


class StyleError(AccompError):
    """An unknown style name or an impossible style mix."""


class DeviceError(AccompError):
    """An audio or MIDI device that cannot be opened or has gone away."""


class ChartError(AccompError):
    """A chord chart that cannot be read or played (names the line and column)."""


class SettingsError(AccompError):
    """A setting with an impossible value."""


def check_output(path, suffixes: tuple[str, ...], what: str, error: type[AccompError] = AccompError):
    """The :class:`pathlib.Path` of a file the user asked us to write, checked before any
    work is done: its suffix is one of ``suffixes`` (lower case, with the dot), and its
    folder exists and may be written; else ``error`` with a one-line reason."""
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise error(f"{out}: a {what} file should end in {' or '.join(suffixes)}")
    if out.is_dir():
        raise error(f"{out}: is a folder, not a {what} file")
    if not out.parent.is_dir():
        raise error(f"{out.parent}: output folder does not exist")
    try:  # the one sure test: make a file there (a read-only or special folder refuses)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise error(f"{out}: cannot write there ({exc.strerror or exc})") from None
    if out.exists() and not os.access(out, os.W_OK):
        raise error(f"{out}: cannot write it (permission denied)")
    return out


def check_not_input(outputs: dict, inputs: dict, writer: str, error: type[AccompError] = AccompError) -> None:
    """Refuse an output file that is one of the inputs (flag -> path, what -> path; None: not
    given): ``writer`` (the render, the sample) would write over the player's own file."""
    for flag, out in outputs.items():
        if out is None or not os.path.exists(out):
            continue
        for what, given in inputs.items():
            if given and os.path.exists(given) and os.path.samefile(out, given):
                raise error(f"{flag} {out}: that is the {what} file, and {writer} would write over it: give another name")
