"""The rhythm section in the window: a mixer strip per part, the band in the settings."""

from __future__ import annotations

import json

import pytest

from accomp.gui import player as play
from accomp.gui.settings import SETTINGS_VERSION, Settings, settings_from_dict
from accomp.music.band import Band
from accomp.music.bass import BASS_PROGRAM

pytest.importorskip("pytestqt")


def test_every_part_has_a_strip_with_volume_and_mute_and_the_band_its_switches(qtbot):
    from accomp.gui.mixer_panel import MixerPanel

    panel = MixerPanel()
    qtbot.addWidget(panel)
    for part in ("lead", "accomp", "bass", "drums", "click"):
        assert {"volume", "mute"} <= set(panel.rows[part]), part
    panel.apply(Settings(bass=True, drums="bossa"))
    assert panel.rows["bass"]["on"].isChecked() and panel.rows["drums"]["pattern"].currentText() == "bossa"
    assert panel.rows["bass"]["program"].currentIndex() == BASS_PROGRAM
    seen = []
    panel.band_changed.connect(seen.append)
    panel.changed.connect(lambda part, changes: seen.append((part, changes)))
    panel.rows["drums"]["pattern"].setCurrentText("swing")
    panel.rows["bass"]["on"].setChecked(False)
    panel.rows["drums"]["mute"].setChecked(True)
    panel.rows["bass"]["volume"].setValue(30)
    assert seen == [{"drums": "swing"}, {"bass": False}, ("drums", {"mute": True}), ("bass", {"volume": 0.3})]


def test_the_band_in_the_settings_and_the_synth_parts():
    old = settings_from_dict({"version": SETTINGS_VERSION, "mixer": {"lead": {"volume": 0.5}}})  # a file from before the band
    assert old.bass is False and old.drums == "off" and old.mixer["bass"].program == BASS_PROGRAM
    with pytest.raises(ValueError, match="drum pattern"):
        settings_from_dict({"version": SETTINGS_VERSION, "drums": "polka"})
    s = Settings(bass=True, drums="rock").with_part("bass", program=34).with_part("drums", solo=True)
    assert settings_from_dict(json.loads(s.to_json())) == s
    assert play.band(s) == Band(bass=True, drums="rock", bass_program=34)
    assert play.band(Settings()).playing is False
    parts = play.parts(s)
    assert [p.name for p in parts] == ["lead", "accomp", "click", "bass", "drums"]  # the engine's part order
    drums, bass = parts[4], parts[3]
    assert drums.drums and drums.channel == 10 and not drums.mute and bass.program == 34
    assert bass.mute and parts[0].mute and not parts[2].mute  # the drums solo: the others rest, not the click
