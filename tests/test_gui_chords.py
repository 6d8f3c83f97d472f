"""The window's Chords panel: a chart opened, checked, edited and saved; played, with its bar
marked; arranger mode's split point; a broken chart never stops a band that plays."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("pytestqt")

from accomp.config import RESOURCES  # noqa: E402
from accomp.devices.audio import refresh, release  # noqa: E402
from accomp.gui.settings import load_settings  # noqa: E402
from accomp.music.charts import read_chart  # noqa: E402
from accomp.music.chords import chord_name  # noqa: E402
from gui_support import WAIT_MS, fresh_config, notice_with, open_window, presets, write_settings  # noqa: E402,F401

BLUES = RESOURCES / "charts" / "blues_in_f.txt"
WALTZ = RESOURCES / "charts" / "amazing_grace.txt"


def test_the_chart_panel_opens_checks_edits_and_saves(qtbot, fresh_config, presets, tmp_path, monkeypatch):
    write_settings(preset=str(presets["tiny-pop"]), tempo=90, meter="4/4")
    window = open_window(qtbot)
    panel = window.chords
    assert not panel.editor.isEnabled() and not panel.split.isEnabled()  # following the melody
    panel.source.setCurrentIndex(panel.source.findData("chart"))
    assert panel.editor.isEnabled() and window.settings.chord_source == "chart"

    assert panel.open(WALTZ)  # a chart sets the tempo and meter it asks for
    assert "Amazing Grace" in panel.status.text() and "3/4" in panel.status.text()
    assert window.settings.meter == "3/4" and window.settings.chart_path == str(WALTZ)
    assert window.transport.meter.currentText() == "3/4"
    assert panel.open(BLUES)
    assert window.settings.tempo == 120 and window.settings.meter == "4/4"
    assert [chord_name(c) for c in panel.chart().per_beat()[:5]] == ["F7"] * 4 + ["Bb7"]
    panel.transpose.setValue(2)
    assert chord_name(panel.chart().per_beat()[0]) == "G7" and window.settings.chart_transpose == 2

    panel.editor.setPlainText("time: 4/4\n| C | Am | F G7 Em Dm Bb |\n")  # a mistake, named by line and column
    panel.check_button.click()
    assert "2:" in panel.status.text() and "5 chords for 4 beats" in panel.status.text()
    assert panel.chart() is None
    panel.editor.setPlainText("time: 4/4\ntempo: 96\n| C | Am | F | G7 |\n")
    target = tmp_path / "mine"  # Save as adds the suffix
    monkeypatch.setattr("accomp.gui.chords_panel.QFileDialog.getSaveFileName", lambda *a, **k: (str(target), ""))
    assert panel.save(None)
    assert target.with_suffix(".txt").read_text().endswith("| C | Am | F | G7 |\n")
    assert window.settings.chart_path == str(target.with_suffix(".txt"))

    for bad, message in ((tmp_path / "huge.txt", "is not a chart"), (tmp_path / "binary.txt", "cannot read it"),
                         (tmp_path / "missing.txt", "cannot read it")):  # fmt: skip
        if bad.name == "huge.txt":
            bad.write_text("| C |\n" * 300_000)
        elif bad.name == "binary.txt":
            bad.write_bytes(b"\xff\xfe\x00| C |")
        before = panel.editor.toPlainText()
        assert not panel.open(bad)
        assert message in panel.status.text() and panel.editor.toPlainText() == before

    panel.source.setCurrentIndex(panel.source.findData("arranger"))
    assert panel.split.isEnabled() and not panel.editor.isEnabled()
    panel.split.setCurrentIndex(panel.split.findText("F#3"))
    assert window.settings.split_key == 54
    window.save_settings()
    saved, notice = load_settings()
    assert notice is None and saved.chord_source == "arranger" and saved.split_key == 54
    assert saved.chart_path == str(target.with_suffix(".txt"))


@pytest.fixture(scope="module")
def jack(jack_server):
    refresh()
    yield jack_server
    release()


def test_a_chart_plays_with_its_bar_marked_and_a_broken_one_does_not_start(qtbot, jack, fresh_config):
    bundled = RESOURCES / "presets" / "pop.safetensors"
    write_settings(preset=str(bundled), host_api="JACK", count_in=0, tempo=200, chord_source="chart",
                   chart_path=str(BLUES), midi_in="")  # fmt: skip
    window = open_window(qtbot)
    panel = window.chords
    assert "title: Blues in F" in panel.editor.toPlainText()

    window.transport.play.click()
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)
    assert not panel.source.isEnabled()  # the source is chosen while stopped
    engine = window.session.engine
    bar_steps = engine.transport.steps_per_bar
    qtbot.waitUntil(lambda: engine.metrics().steps >= 2 * bar_steps + 4, timeout=WAIT_MS)
    window._tick()  # the engine plays on meanwhile: read which bar the panel names, then check it
    named = re.match(r"Bar (\d+) of 24: (\S+)", panel.status.text())
    assert named, panel.status.text()
    bars = read_chart(BLUES).bars
    bar = int(named[1])
    assert bar >= 3 and named[2] == chord_name(bars[bar - 1].chords[0]), panel.status.text()
    assert panel.editor.extraSelections()  # the bar's line is marked
    assert window.transport.big_chord[1].text() in {chord_name(c) for b in bars[bar - 1 : bar + 1] for c in b.chords}
    panel.editor.setPlainText("| C | nonsense |")  # an edit while playing: the band plays on
    assert "until you stop" in panel.status.text()
    steps = engine.metrics().steps
    qtbot.waitUntil(lambda: engine.metrics().steps >= steps + bar_steps, timeout=WAIT_MS)
    window.transport.play.click()
    qtbot.waitUntil(lambda: window.session is None and not window.playing.stopping, timeout=WAIT_MS)
    assert window.last_summary["error"] is None

    window.transport.play.click()  # the broken chart: play does not start, and says why
    qtbot.waitUntil(lambda: notice_with(window, "Chords panel has none that reads"), timeout=WAIT_MS)
    assert window.session is None and not window.transport.play.isChecked()
    assert "nonsense" in panel.status.text()
