"""The main window without sound hardware: presets, bad input, notices and the error dialog."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from accomp.gui import player as play  # noqa: E402
from accomp.gui.devices_panel import buffer_latency_ms  # noqa: E402
from accomp.gui.distill_dialog import eta_text, file_stem  # noqa: E402
from accomp.music.keyboard import ComputerKeyboard  # noqa: E402
from accomp.gui.presets_panel import quality_line  # noqa: E402
from accomp.gui.transport_bar import TapTempo, position_text  # noqa: E402
from gui_support import WAIT_MS, fresh_config, notice_with, open_window, presets, write_settings  # noqa: E402,F401


# ----------------------------------------------------------------------------- small parts


def test_computer_keyboard_plays_notes_and_octaves():
    kb = ComputerKeyboard(octave=4)
    assert kb.press("a") == 60 and kb.press("a") is None  # held: no second note-on
    assert kb.press("W") == 61
    kb.press("x")  # octave up while keys are held
    assert kb.press("k") == 84
    assert kb.release("a") == 60  # ends the pitch it started, not the new octave's
    assert sorted(kb.release_all()) == [61, 84] and kb.held == {}
    assert kb.press("q") is None and not kb.handles("q") and not kb.handles("")
    for _ in range(12):
        kb.press("x")
    assert kb.octave == 8


def test_tap_tempo_and_position_display():
    tap = TapTempo()
    assert tap.tap(0.0) is None
    assert tap.tap(0.5) == 120.0
    assert tap.tap(1.0) == 120.0 and tap.tap(1.6) == 120.0  # the median interval
    assert tap.tap(10.0) is None  # a long pause starts over
    assert position_text(-8.0, 4, 16) == ("in 2", 2)  # count-in: beats to go
    assert position_text(0.2, 4, 16) == ("1.1", 0)
    assert position_text(37.9, 4, 16) == ("3.2", 1)
    assert position_text(13.0, 4, 12) == ("2.1", 0)  # 3/4
    assert position_text(19.0, 2, 12) == ("2.4", 3)  # 6/8: counted in eighths, as its clicks and a chart count


def test_small_formatters():
    assert buffer_latency_ms(128, 48000) == pytest.approx(2.667, abs=1e-3)
    assert eta_text(75) == "1:15" and eta_text(3725) == "1:02:05"
    assert file_stem("My style / 2!") == "My-style-2" and file_stem("///") == "style"
    header = {"metrics": {"reference": "teacher (causal)", "table": {"teacher (causal)": {"consonance": 0.9},
                                                                       "student": {"consonance": 0.8, "diversity": float("nan")}}}}  # fmt: skip
    assert quality_line(header) == "consonance 0.80  (vs teacher (causal))"
    assert quality_line({}) == "no quality figures"


# ----------------------------------------------------------------------------- the window


def test_window_opens_with_the_preset_ready_and_cards_listed(qtbot, fresh_config, presets):
    write_settings(preset=str(presets["tiny-pop"]))
    window = open_window(qtbot)
    assert window.player.path == presets["tiny-pop"] and window.player.name == "tiny-pop"
    listed = window.presets.paths()
    assert presets["tiny-pop"] in listed and presets["tiny-chorale"] in listed
    card = window.presets.list.itemWidget(window.presets.item_for(presets["tiny-chorale"]))
    assert "tiny-chorale" in card.text() and "consonance 0.61" in card.text() and "(yours)" in card.text()
    assert window.presets.list.currentItem() is window.presets.item_for(presets["tiny-pop"])
    window.presets.chosen.emit(presets["tiny-chorale"])
    qtbot.waitUntil(lambda: window.player.path == presets["tiny-chorale"], timeout=WAIT_MS)
    assert window.settings.preset == str(presets["tiny-chorale"])
    window.resize(700, 600)  # a long device name in a narrow window: cut, whole in the tooltip
    long = "Playing tiny-chorale on " + "USB Audio Interface With A Very Long Name, " * 6 + "from the computer keyboard."
    window.show_status(long)
    shown = window.statusBar().currentMessage()
    assert shown.startswith("Playing tiny-chorale on USB") and shown.endswith("…") and len(shown) < len(long)
    assert window.statusBar().toolTip() == long
    window.show_status("Recorded take1.mid")
    assert window.statusBar().currentMessage() == "Recorded take1.mid" and window.statusBar().toolTip() == ""


def test_no_preset_at_all_still_opens_with_a_notice(qtbot, fresh_config, tmp_path, monkeypatch):
    empty = tmp_path / "nothing"
    monkeypatch.setenv("ACCOMP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("accomp.model.preset.bundled_presets", lambda: empty)
    window = open_window(qtbot, wait_player=False)
    assert window.player is None
    assert notice_with(window, "no style preset is installed yet")
    assert window.presets.paths() == [] and "distil one" in window.presets.status.text()
    window.transport.play.click()  # Play with nothing to play: a notice, and not playing
    qtbot.waitUntil(lambda: not window.transport.play.isChecked() and not window.jobs.busy(), timeout=WAIT_MS)
    assert notice_with(window, "no style preset is loaded") and window.session is None


def test_no_audio_device_at_all(qtbot, fresh_config, presets, monkeypatch):
    monkeypatch.setattr("accomp.devices.listing.audio_devices", lambda: [{"host_api": "ALSA", "devices": []}])
    write_settings(preset=str(presets["tiny-pop"]), host_api="No Such Host API")
    window = open_window(qtbot)
    assert notice_with(window, "no audio output device found")
    assert window.device_panel.host_api.currentText() == "No Such Host API (not found)"
    assert window.device_panel.audio_out.count() == 1  # only "(system default)"
    window.transport.play.click()
    qtbot.waitUntil(lambda: not window.transport.play.isChecked() and not window.jobs.busy(), timeout=WAIT_MS)
    assert notice_with(window, "Starting to play failed: no audio host API 'No Such Host API'")
    assert window.session is None and window.device_panel.host_api.isEnabled()
    window.presets.chosen.emit(presets["tiny-chorale"])  # the rest of the app keeps working
    qtbot.waitUntil(lambda: window.player.path == presets["tiny-chorale"], timeout=WAIT_MS)


def test_without_a_midi_keyboard_the_window_says_what_plays_and_what_to_connect(qtbot, fresh_config, presets, monkeypatch):
    ports = [{"api": "ALSA", "unavailable": "MIDI input (ALSA) unavailable: no sequencer"}]
    monkeypatch.setattr("accomp.devices.listing.midi_ports", lambda: ports)
    write_settings(preset=str(presets["tiny-pop"]))
    window = open_window(qtbot)
    assert notice_with(window, "No MIDI keyboard found: the computer keyboard plays the melody")
    assert notice_with(window, "press Rescan under Devices")
    window.notices.clear()
    ports[:] = [{"api": "ALSA", "inputs": ["USB Keyboard:0"], "outputs": []}]
    window.rescan()
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=WAIT_MS)
    assert not notice_with(window, "No MIDI keyboard found")


def test_corrupt_preset_is_listed_greyed_with_a_notice_and_cannot_be_chosen(qtbot, fresh_config, presets):
    broken = presets["tiny-pop"].parent / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    try:
        write_settings(preset=str(presets["tiny-pop"]))
        window = open_window(qtbot)
        assert notice_with(window, "Preset broken.safetensors cannot be used")
        item = window.presets.item_for(broken)
        assert item is not None and not item.flags() & Qt.ItemFlag.ItemIsEnabled
        window.choose_preset(broken)  # as if chosen anyway (e.g. the file broke after the listing)
        qtbot.waitUntil(lambda: notice_with(window, "The preset cannot be used") and not window.jobs.busy(), timeout=WAIT_MS)
        assert notice_with(window, "Still playing: tiny-pop") and window.player.path == presets["tiny-pop"]
    finally:
        broken.unlink()


def test_saved_preset_that_broke_falls_back_to_the_default_with_a_notice(qtbot, fresh_config, presets, tmp_path):
    gone = tmp_path / "gone.safetensors"
    gone.write_bytes(b"not a preset")
    write_settings(preset=str(gone))
    window = open_window(qtbot)
    assert notice_with(window, "The saved preset cannot be used")
    assert window.player is not None and window.player.path != gone
    assert window.settings.preset == str(window.player.path)


def test_saved_preset_whose_planner_is_gone_falls_back_to_the_default_with_a_notice(qtbot, fresh_config, presets, monkeypatch):
    """A saved preset that reads but cannot play (its chord planner is nowhere: a folder moved,
    an old checkout deleted; the loader says so with a CheckpointError) is a broken saved
    choice too, not a window with no band."""
    from accomp.errors import CheckpointError

    orphan = presets["tiny-pop"]
    real = play.load_player

    def load(path, *args, **kwargs):
        if Path(path) == orphan:
            raise CheckpointError(f"{path}: its chord planner 'planner.safetensors' (hash 0000000000000000) is not in ...")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(play, "load_player", load)
    write_settings(preset=str(orphan))
    window = open_window(qtbot)
    qtbot.waitUntil(lambda: window.player is not None and not window.jobs.busy(), timeout=WAIT_MS)
    assert notice_with(window, "The saved preset cannot be used") and notice_with(window, "chord planner")
    assert window.player.path != orphan and window.settings.preset == str(window.player.path)


def test_unexpected_error_shows_a_dialog_naming_the_log_file(qtbot, fresh_config, presets):
    from accomp.gui.logs import log_path, setup_logging

    path = setup_logging()
    write_settings(preset=str(presets["tiny-pop"]))
    window = open_window(qtbot)

    def broken() -> None:
        raise RuntimeError("a bug")

    window.jobs.submit("testing the error dialog", broken)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=WAIT_MS)
    box = window.findChild(QMessageBox, "errorDialog")
    assert "RuntimeError: a bug" in box.text() and str(log_path()) in box.informativeText()
    assert log_path() == path == Path(os.environ["ACCOMP_DATA_DIR"]) / "logs" / "accomp.log"
    assert "RuntimeError: a bug" in path.read_text() and "Traceback" in path.read_text()
    box.close()


def test_keys_in_text_fields_do_not_play(qtbot, fresh_config, presets):
    write_settings(preset=str(presets["tiny-pop"]))
    window = open_window(qtbot)
    sent = []
    window.keys.send = lambda *message: sent.append(message)
    qtbot.keyPress(window.roll, Qt.Key.Key_A)
    qtbot.keyRelease(window.roll, Qt.Key.Key_A)
    assert sent == [(0x90, 60, 96), (0x80, 60, 0)]
    window.transport.tempo.setFocus()
    qtbot.keyPress(window.transport.tempo, Qt.Key.Key_A)
    assert len(sent) == 2
    assert isinstance(play.find_preset(str(presets["tiny-pop"])), Path)


def test_the_latency_histogram_widens_for_slow_notes_instead_of_piling_them_at_its_end(qtbot):
    import numpy as np

    from accomp.gui.views import HIST_MAX_MS, LatencyView

    view = LatencyView()
    qtbot.addWidget(view)
    view.show_histogram(np.array([6.0, 7.0, 7.5, 150.0]))
    x, counts = view.hist_curve.getData()
    assert view.bins[-1] >= 150.0 and view.bins[-1] == 3 * HIST_MAX_MS
    slow = int(np.searchsorted(view.bins, 150.0, side="right")) - 1
    assert counts.sum() == 4 and counts[min(slow, len(counts) - 1)] == 1 and counts[: len(counts) // 2].sum() == 3
    view.reset()
    assert view.bins[-1] == HIST_MAX_MS  # a new session starts from the first range again


def test_the_key_display_holds_when_nobody_plays():
    from types import SimpleNamespace

    import numpy as np

    from accomp.gui.player import ROLL_STEPS
    from accomp.gui.views import recent_key

    lead, accomp = np.zeros((ROLL_STEPS, 88), np.uint8), np.zeros((ROLL_STEPS, 88), np.uint8)
    for t, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72] * 4):  # a C major scale, then the player stops
        lead[2 * t, pitch - 21] = 2
    player = SimpleNamespace(last_step=63, lead=lead, accomp=accomp)
    assert recent_key(player) == "C major"
    for t in range(64, 192):  # the band alone, on F# major chords: the display must not follow it
        accomp[t % ROLL_STEPS, [66 - 21, 70 - 21, 73 - 21]] = 1
    player.last_step = 191
    assert recent_key(player) is None
    assert recent_key(SimpleNamespace(last_step=-1, lead=lead, accomp=accomp)) == "key –"


def test_the_chord_display_shows_the_chord_now_and_a_charts_next_one(qtbot):
    import numpy as np

    from accomp.engine.accompanist import Accompanist
    from accomp.gui.transport_bar import TransportBar
    from accomp.model.harmony import Harmony
    from accomp.model.planner import Guard, Planner, PlannerConfig
    from accomp.model.student import Student
    from accomp.music.charts import parse_chart
    from accomp.music.chords import chord_name
    from tiny_models import tiny_teacher

    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    planner = Planner.create(PlannerConfig(styles=("chorale", "pop"), hidden=16, layers=1))
    acc = Accompanist(student, np.array([0.0, 1.0, 0.0]), harmony=Harmony(planner, Guard(1.0)))
    player = play.ObservedPlayer(acc, Path("mine.safetensors"))
    # live, the planner may still revise a beat's chord on its first step: the engine's wait asks the wrapper
    assert player.may_revise(4, 4) and not player.may_revise(5, 5)
    acc.play_chart(parse_chart("| C | Am F | Dm7 G7 |").per_beat())
    assert not player.may_revise(4, 4)  # a chart's chords are known ahead
    shown = []
    bar = TransportBar()
    qtbot.addWidget(bar)
    for t in range(48):
        player.step(t, np.zeros((2, 88), np.uint8), t % 16)
        now, upcoming = player.chords()
        bar.show_chords(chord_name(now), "" if upcoming == now else f"next {chord_name(upcoming)}")
        shown.append((bar.big_chord[1].text(), bar.next_chord.text()))
    assert shown[0] == ("C", "") and shown[12] == ("C", "next Am")  # the last beat of bar 1 announces Am
    assert shown[16] == ("Am", "") and shown[28] == ("F", "next Dm7") and shown[44] == ("G7", "next C")  # and round again
    from accomp.gui.views import PianoRoll

    roll = PianoRoll()  # the roll names each chord where it starts, latest last
    qtbot.addWidget(roll)
    roll.update_from(player)
    named = [(label.pos().x(), label.toPlainText()) for label in roll.labels if label.isVisible()]
    assert [name for _, name in named] == ["C", "Am", "F", "Dm7", "G7"]
    assert [x for x, _ in named] == [-127 + 80, -127 + 96, -127 + 104, -127 + 112, -127 + 120]
    player.chord_of[45:48] = player.chord_of[44] + 1  # a change 5 steps after G7's
    roll.update_from(player)  # names closer than LABEL_GAP steps: the newer one stays
    roll._shown = (None, -2)
    roll.update_from(player)
    named = [label.toPlainText() for label in roll.labels if label.isVisible()]
    assert named == ["C", "Am", "F", "Dm7", "Gmaj7"]


def test_the_windows_player_lets_the_planner_decide_the_next_beat_between_steps():
    """The window's ObservedPlayer passes the scheduler's between_steps on: the next beat is
    decided ahead (PlannerStream.anticipate) and its step looks it up."""
    import numpy as np

    from accomp.engine.accompanist import Accompanist
    from accomp.model.harmony import Harmony
    from accomp.model.planner import Guard, Planner, PlannerConfig
    from accomp.model.student import Student
    from tiny_models import tiny_teacher

    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    planner = Planner.create(PlannerConfig(styles=("chorale", "pop"), hidden=16, layers=1))
    acc = Accompanist(student, np.array([0.0, 1.0, 0.0]), harmony=Harmony(planner, Guard(1.0)))
    player = play.ObservedPlayer(acc, Path("mine.safetensors"))
    lead = np.zeros((2, 88), np.uint8)
    for t in range(4):
        player.step(t, lead, t % 16)
        player.between_steps()
    assert acc.plan._ahead_for == acc.plan._beats + 1  # the beat at step 4, decided ahead
    looked_up, recall = [], acc.plan._recall
    acc.plan._recall = lambda row, position: looked_up.append(recall(row, position)) or looked_up[-1]
    lead[:, 60 - 21] = 1
    player.step(4, lead, 4)
    assert looked_up == [True]  # and looked up
