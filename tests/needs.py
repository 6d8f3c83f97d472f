"""What a test needs from the machine: a missing program or SoundFont skips the test on a
developer's machine and fails it in CI (``CI=true``), where ``./install.sh --test`` must have
installed it."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Fail (in CI) or skip the test for ``reason``; does not return."""
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def program(binary: str, package: str = "jackd2") -> str:
    """The path of ``binary``, from Debian package ``package``."""
    path = shutil.which(binary)
    if path is None:
        missing(f"'{binary}' not found (Debian package {package}; './install.sh --test' installs it)")
    return path


def soundfont():
    """The built-in synth's default SoundFont (:func:`accomp.synth.soundfont.default_soundfont`)."""
    from accomp.errors import DeviceError
    from accomp.synth.soundfont import default_soundfont

    try:
        return default_soundfont()
    except DeviceError as exc:
        missing(str(exc))
