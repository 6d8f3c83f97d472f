"""Services that tests ask for: a JACK server with the dummy driver and a virtual X display.

Each is started once per test session, only when a test requests its fixture, waited on
until it answers (never a fixed sleep), and stopped at the end of the session. A missing
binary skips the test on a developer's machine and fails it in CI (``CI=true``), where
``./install.sh --test`` must have installed it.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from needs import program

READY_TIMEOUT_S = 20.0

# Qt widgets in tests render offscreen unless a test asks for the X display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _fail_startup(what: str, proc: subprocess.Popen, log: Path, why: str) -> None:
    _stop(proc)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    pytest.fail(f"{what} did not start: {why}\n--- {log} ---\n{tail}", pytrace=False)


def _wait_until_ready(what: str, proc: subprocess.Popen, log: Path, ready: Callable[[], bool]) -> None:
    """Poll ``ready()`` until it holds; between polls wait on the process (it may die)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready():
        if time.monotonic() > deadline:
            _fail_startup(what, proc, log, f"not ready after {READY_TIMEOUT_S:.0f} s")
        try:
            code = proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        _fail_startup(what, proc, log, f"exited with code {code}")


@dataclass(frozen=True)
class JackServer:
    """A running JACK server; clients reach it through ``JACK_DEFAULT_SERVER=name``."""

    name: str
    sample_rate: int
    period: int
    log: Path  # what jackd prints: late clients ("... was not finished"), xruns

    def env(self) -> dict[str, str]:
        """The environment a subprocess needs to talk to this server."""
        return {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}


def _clear_stale_jack_registry() -> None:
    """JACK keeps a table of servers in /dev/shm; servers that were killed (not stopped)
    leave entries behind until the table is full ("Too many servers already active"). When
    no jackd runs at all, nothing can be using the table, so start from a clean one."""
    if subprocess.run(["pgrep", "-x", "jackd"], capture_output=True).returncode == 0:
        return
    shm = Path("/dev/shm")
    for entry in list(shm.glob("jack-*")) + list(shm.glob("jack_*")):
        if entry.is_dir():  # jack_db-UID: a folder
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _jack(tmp_path_factory: pytest.TempPathFactory, name: str, *flags: str) -> Iterator[JackServer]:
    jackd = program("jackd", "jackd2")
    jack_lsp = program("jack_lsp", "jackd2")
    log = tmp_path_factory.mktemp("jack") / "jackd.log"
    server = JackServer(name=f"{name}-{os.getpid()}", sample_rate=48000, period=128, log=log)
    _clear_stale_jack_registry()
    env = {**server.env(), "JACK_NO_AUDIO_RESERVATION": "1"}
    cmd = [jackd, "-n", server.name, "--no-realtime", *flags, "-d", "dummy",
           "-r", str(server.sample_rate), "-p", str(server.period)]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)

    def answers() -> bool:
        return subprocess.run([jack_lsp], env=env, capture_output=True, timeout=10).returncode == 0

    _wait_until_ready("jackd", proc, log, answers)
    try:
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    """``jackd --no-realtime -d dummy -r 48000 -p 128`` under a name of its own.

    While it runs, ``JACK_DEFAULT_SERVER`` points at it in this process, so sounddevice's
    JACK host API and python-rtmidi's JACK API opened from now on connect to it.
    """
    for server in _jack(tmp_path_factory, "accomp-test"):
        patch = pytest.MonkeyPatch()
        patch.setenv("JACK_DEFAULT_SERVER", server.name)
        patch.setenv("JACK_NO_START_SERVER", "1")
        try:
            yield server
        finally:
            patch.undo()


@pytest.fixture(scope="module")
def jack_sync_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    """The same in synchronous mode (``-S``), for tests of what an app sends over JACK MIDI.

    In JACK's default asynchronous mode a client late for its cycle (a loaded machine, a
    Python callback waiting for the GIL) can read a port buffer while the next cycle writes
    it, and records copies of one message in place of others, or loses them: transport
    noise that says nothing about the app. In synchronous mode each cycle waits for every
    client. ``JACK_DEFAULT_SERVER`` is left alone: pass ``server.env()`` to the subprocesses that
    talk to it, and keep its clients out of pytest's own process, which talks to
    ``jack_server`` (one process with clients on two servers crashed libjack on close).
    """
    yield from _jack(tmp_path_factory, "accomp-test-sync", "-S")


@pytest.fixture(scope="session")
def xvfb_display(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A virtual X screen (1280x800x24); ``DISPLAY`` points at it while it runs.

    Xvfb picks a free display number itself and writes it to a pipe once it accepts
    connections (``-displayfd``): that line is the readiness signal.
    """
    xvfb = program("Xvfb", "xvfb")
    log = tmp_path_factory.mktemp("xvfb") / "Xvfb.log"
    read_fd, write_fd = os.pipe()
    cmd = [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, pass_fds=(write_fd,)
        )
    os.close(write_fd)
    try:
        number = _read_line(read_fd, READY_TIMEOUT_S)
    finally:
        os.close(read_fd)
    if not number.isdigit():
        _fail_startup("Xvfb", proc, log, "it wrote no display number")
    display = f":{number}"
    patch = pytest.MonkeyPatch()
    patch.setenv("DISPLAY", display)
    try:
        yield display
    finally:
        patch.undo()
        _stop(proc)


def _read_line(fd: int, timeout_s: float) -> str:
    """Read one line from ``fd``; an empty string at end of file or after ``timeout_s``."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return ""
        chunk = os.read(fd, 64)
        if not chunk:
            return ""
        data += chunk
    return data.decode().strip()


@pytest.fixture(autouse=True)
def _private_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or write the real user's presets, teachers, settings or caches."""
    root = tmp_path_factory.getbasetemp() / "user"
    monkeypatch.setenv("ACCOMP_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("ACCOMP_CONFIG_DIR", str(root / "config"))
    if "ACCOMP_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("ACCOMP_CACHE_DIR", str(root / "cache"))
