"""Cold start: from starting the app to its window playing.

    .venv/bin/python benchmarks/cold_start.py [--bundle DIR|TARBALL] [--runs 5]

Starts ``accomp launch --play --quit-after 1`` offscreen (``QT_QPA_PLATFORM=offscreen``),
with a JACK dummy server of its own as the audio device, and times from the start of the
process to its line ``accomp: playing ...`` (printed once the session plays: the window
open, the preset and its teacher loaded, the devices opened, the model warmed up). Each run
has a new, empty home folder (the first launch of a new user: no settings, no caches) and a
clean environment. With ``--bundle`` the frozen app of the Linux bundle (an unpacked folder,
or the tarball, unpacked into a new folder first); without, the source app in ``.venv``.

The first run after unpacking is the coldest this can measure without dropping the system's
page cache (which would slow everyone else on the machine); the later runs find the files
cached. The table shows each run, the first and the median. Bar (issue 19): <= 10 s.
Writes ``benchmarks/results/cold_start.json`` (``--json``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import write_result  # noqa: E402
from scripts.headless import require, start_jack, stop  # noqa: E402

BAR_S = 10.0
TIMEOUT_S = 120.0


def unpack(bundle: Path, into: Path) -> Path:
    """The bundle's folder: ``bundle`` itself, or the tarball unpacked under ``into``."""
    if bundle.is_dir():
        return bundle
    with tarfile.open(bundle) as tar:
        tar.extractall(into, filter="tar")
    (folder,) = [p for p in into.iterdir() if p.is_dir()]
    return folder


def one_start(program: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Start the app; seconds until it says it plays (None if it never does)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*program, "launch", "--play", "--quit-after", "1"], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    playing_s, said = None, []
    watchdog = threading.Timer(TIMEOUT_S, proc.kill)  # a run that hangs ends as one that never played
    watchdog.start()
    try:
        for line in proc.stderr:  # the app's own lines, as they come
            said.append(line.rstrip())
            if line.startswith("accomp: playing"):
                playing_s = time.perf_counter() - t0
        proc.wait(TIMEOUT_S)
    finally:
        watchdog.cancel()
        stop(proc)
    return {"playing_s": None if playing_s is None else round(playing_s, 2),
            "exit": proc.returncode, "said": [s for s in said if s.startswith("accomp:")][-2:]}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, help="the Linux bundle: its unpacked folder or its tarball")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "cold_start.json")
    args = ap.parse_args()
    require("jackd", "jack_lsp")

    scratch = Path(tempfile.mkdtemp(prefix="accomp-cold-"))
    server = f"accomp-cold-{os.getpid()}"
    jack = start_jack(server, buffer=256)
    try:
        if args.bundle:
            folder = unpack(args.bundle.resolve(), scratch / "bundle")
            program, what = [str(folder / "accomp")], f"bundle {args.bundle}"
        else:
            program, what = [str(ROOT / ".venv" / "bin" / "accomp")], "source app (.venv)"
        runs = []
        for i in range(args.runs):
            home = scratch / f"home{i}"
            home.mkdir()
            env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen",
                   "XDG_RUNTIME_DIR": str(scratch), "JACK_DEFAULT_SERVER": server, "JACK_NO_START_SERVER": "1"}  # fmt: skip
            load = os.getloadavg()[0]
            run = one_start(program, env, home)
            run["load_1min"] = round(load, 2)
            runs.append(run)
            print(f"run {i + 1}: {run['playing_s']} s to playing (load average {load:.1f})", flush=True)
    finally:
        stop(jack)
        shutil.rmtree(scratch, ignore_errors=True)

    times = [r["playing_s"] for r in runs if r["playing_s"] is not None]
    if len(times) < len(runs):
        print(f"{len(runs) - len(times)} run(s) never played: {[r['said'] for r in runs if r['playing_s'] is None]}")
    median = statistics.median(times) if times else None
    first = runs[0]["playing_s"]
    print(f"\ncold start to a playing window, {what}, {os.cpu_count()} CPUs")
    print(f"| runs | first (coldest) | median | min | max | bar |\n|---|---|---|---|---|---|")
    if times:
        print(f"| {len(times)}/{len(runs)} | {first} s | {median:.2f} s | {min(times):.2f} s | {max(times):.2f} s | <= {BAR_S:.0f} s |")
    write_result(args.json, {
        "what": what, "program": program, "runs": runs, "first_s": first, "median_s": median,
        "bar_s": BAR_S, "meets_bar": median is not None and median <= BAR_S,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "command": "launch --play --quit-after 1, QT_QPA_PLATFORM=offscreen, JACK dummy server -r 48000 -p 256, new HOME per run",
    })  # fmt: skip
    print(f"wrote {args.json}")
    return 0 if times else 1


if __name__ == "__main__":
    raise SystemExit(main())
