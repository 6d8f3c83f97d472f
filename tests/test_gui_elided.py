"""Long device names and device errors in the device panel's status: elided to the panel's
width with the whole text in the tooltip, never clipped or widening the panel."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from accomp.gui.devices_panel import DevicesPanel  # noqa: E402

LONG = "MIDI ALSA: MidiInAlsa::initialize:error-creating-ALSA-sequencer-client-object-on-Focusrite-Scarlett-18i20-USB"


def test_a_long_device_status_is_elided_with_the_whole_text_in_its_tooltip(qtbot):
    panel = DevicesPanel()
    qtbot.addWidget(panel)
    panel.resize(260, 500)
    panel.show()
    qtbot.waitExposed(panel)
    panel.status.setText(f"no audio output device\n{LONG}")
    first, second = panel.status.text().split("\n")
    assert first == "no audio output device"  # a short line stays whole
    assert second.endswith("…") and LONG.startswith(second[:-1])
    assert panel.status.toolTip() == panel.status.full_text() == f"no audio output device\n{LONG}"
    assert panel.width() <= 260 and panel.status.width() <= panel.width()
    panel.resize(2000, 500)  # wide enough: the whole text, no tooltip
    qtbot.waitUntil(lambda: panel.status.text() == f"no audio output device\n{LONG}", timeout=2000)
    assert panel.status.toolTip() == ""
