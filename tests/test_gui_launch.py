"""`accomp` as a user starts it: the window on an X screen (Xvfb), playing the default preset
through a JACK dummy server; and the audio device vanishing mid-play (the app says so and
carries on). Each runs the app in a process of its own, as `accomp launch --play --quit-after`.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("tinysoundfont")

import needs  # noqa: E402
from gui_support import presets, write_settings  # noqa: E402,F401

READY_S = 120.0


def launch(env: dict, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "accomp", "launch", "--play", "--quit-after", str(seconds)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def launch_to_end(env: dict, seconds: float) -> tuple[int, str, str]:
    """Run `accomp launch --play --quit-after` to its end: (exit code, stdout, stderr)."""
    app = launch(env, seconds)
    try:
        out, err = app.communicate(timeout=READY_S)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
    return app.returncode, out, err


def wait_for_line(stream, needle: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            raise AssertionError(f"no '{needle}' within {timeout:.0f} s; the app said: {seen[-2000:]}")
        line = stream.readline()
        if not line:
            raise AssertionError(f"the app ended before '{needle}'; it said: {seen[-2000:]}")
        seen += line
    return seen


def summary_of(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_accomp_opens_the_window_and_plays_the_default_preset(xvfb_display, jack_server, presets, tmp_path):
    env = {**jack_server.env(), "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb", "ACCOMP_CONFIG_DIR": str(tmp_path)}
    write_settings(tmp_path, host_api="JACK", count_in=1)  # the preset: the default one
    app = launch(env, 3.0)
    try:
        wait_for_line(app.stderr, "accomp: playing", READY_S)
        out, err = app.communicate(timeout=READY_S)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
    assert app.returncode == 0, err[-3000:]
    summary = summary_of(out)
    play = summary["last_play"]
    assert play["error"] is None and play["engine"]["steps"] > 0 and play["engine"]["accomp_sounding"] == 0
    assert play["synth"]["notes"]["click"] >= 4  # the count-in bar was heard
    assert play["audio"]["device"] and "xcb" not in err
    assert os.path.isfile(summary["log"])


def test_audio_device_vanishing_mid_play_gives_a_notice_and_the_app_carries_on(presets, tmp_path):
    for tool in ("jackd", "jack_lsp"):
        needs.program(tool)
    name = f"accomp-gui-loss-{os.getpid()}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1", "JACK_NO_AUDIO_RESERVATION": "1",
           "ACCOMP_CONFIG_DIR": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}  # fmt: skip
    write_settings(tmp_path, host_api="JACK", count_in=0)
    server = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "128"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    app = None
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["jack_lsp"], env=env, capture_output=True, timeout=10).returncode != 0:
            assert time.monotonic() < deadline and server.poll() is None, "jackd did not start"
        app = launch(env, 6.0)
        wait_for_line(app.stderr, "accomp: playing", READY_S)
        server.terminate()  # the device goes away
        server.wait(10)
        out, err = app.communicate(timeout=READY_S)
    finally:
        for proc in (app, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert app.returncode == 0, err[-3000:]
    summary = summary_of(out)
    stopped = [n for n in summary["notices"] if n.startswith("Playing stopped: audio device")]
    assert stopped, summary["notices"]
    assert summary["last_play"]["error"] and "audio device" in summary["last_play"]["error"]


def test_a_missing_saved_preset_falls_back_to_the_bundled_one_and_plays(jack_server, presets, tmp_path):
    env = {**jack_server.env(), "QT_QPA_PLATFORM": "offscreen", "ACCOMP_CONFIG_DIR": str(tmp_path)}
    write_settings(tmp_path, host_api="JACK", count_in=0, preset=str(tmp_path / "deleted-since.safetensors"))
    code, out, err = launch_to_end(env, 1.0)
    assert code == 0 and "accomp: playing 'pop'" in err, err[-3000:]
    summary = summary_of(out)
    assert any("saved preset cannot be used" in n for n in summary["notices"]), summary["notices"]
    assert summary["last_play"]["engine"]["steps"] > 0


def test_launch_play_that_cannot_start_says_why_and_exits_1(presets, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ACCOMP_CONFIG_DIR": str(tmp_path)}
    write_settings(tmp_path, host_api="NoSuchHostApi", count_in=0)
    code, out, err = launch_to_end(env, 0.5)
    assert code == 1, err[-3000:]
    assert "accomp: not playing:" in err and summary_of(out)["last_play"] is None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_kill_or_ctrl_c_closes_the_window_as_its_close_button_does(jack_server, presets, tmp_path, signum):
    """`kill` (or a closed terminal) and Ctrl+C at the terminal that started it close the
    window: the play stops with every note ended, its summary is kept, the settings saved."""
    env = {**jack_server.env(), "QT_QPA_PLATFORM": "offscreen", "ACCOMP_CONFIG_DIR": str(tmp_path)}
    settings = write_settings(tmp_path, host_api="JACK", count_in=0)
    written = settings.stat().st_mtime_ns
    app = subprocess.Popen([sys.executable, "-m", "accomp", "launch", "--play", "--quit-after", "600"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as at a terminal  # fmt: skip
    try:
        wait_for_line(app.stderr, "accomp: playing", READY_S)
        app.send_signal(signum)
        out, err = app.communicate(timeout=READY_S)  # long before --quit-after's 600 s
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
    assert app.returncode == 0, err[-3000:]
    play = summary_of(out)["last_play"]
    assert play["error"] is None and play["engine"]["accomp_sounding"] == 0
    assert settings.stat().st_mtime_ns > written
