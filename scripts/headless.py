"""A virtual X screen and a JACK dummy server for scripts that run the app without hardware
(``scripts/screenshots.py``, ``benchmarks/gui_stall.py``). Each waits until its service
answers (never a fixed sleep) and exits with a message when it cannot start.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time

READY_S = 20.0


def require(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            sys.exit(f"'{tool}' is missing (./install.sh --test installs it)")


def start_xvfb(screen: str = "1600x1000x24") -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display (it writes the number once it accepts connections)."""
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", screen, "-nolisten", "tcp"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(w,))  # fmt: skip
    os.close(w)
    number = b""
    deadline = time.monotonic() + READY_S
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        if select.select([r], [], [], 1.0)[0]:
            chunk = os.read(r, 16)
            if not chunk:
                break
            number += chunk
    os.close(r)
    if not number.strip().isdigit():
        stop(proc)
        sys.exit("Xvfb did not start")
    return proc, f":{number.decode().strip()}"


def start_jack(name: str, rate: int = 48000, buffer: int = 128) -> subprocess.Popen:
    """``jackd --no-realtime -d dummy`` under ``name``; clients reach it via JACK_DEFAULT_SERVER."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1", "JACK_NO_AUDIO_RESERVATION": "1"}
    proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(rate), "-p", str(buffer)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    deadline = time.monotonic() + READY_S
    while subprocess.run(["jack_lsp"], env=env, capture_output=True, timeout=10).returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            sys.exit("jackd did not start")
        try:
            proc.wait(0.05)
        except subprocess.TimeoutExpired:
            pass
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
