"""Settings: versioned, atomic, and a corrupt or old file is set aside with a visible notice."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from accomp.gui.settings import SETTINGS_VERSION, PartMix, Settings, load_settings, save_settings, settings_path

pytest.importorskip("pytestqt")

from gui_support import fresh_config, notice_with, open_window, presets, write_settings  # noqa: E402,F401


def test_round_trip_and_atomic_write(fresh_config):
    settings = replace(Settings(tempo=92.5, audio_out="Speakers", preset="/x/pop.safetensors"), window_state="AAAA")
    settings = settings.with_part("accomp", program=48, volume=0.5, solo=True)
    save_settings(settings)
    assert [p.name for p in fresh_config.iterdir()] == ["settings.json"]  # no temporary file left
    data = json.loads(settings_path().read_text())
    assert data["version"] == SETTINGS_VERSION
    loaded, notice = load_settings()
    assert notice is None and loaded == settings
    assert loaded.mixer["accomp"] == PartMix(program=48, volume=0.5, solo=True)


def test_missing_file_gives_defaults_silently(fresh_config):
    assert load_settings() == (Settings(), None)


def test_missing_fields_take_defaults(fresh_config):
    write_settings(tempo=120, mixer={"lead": {"volume": 0.3}})
    loaded, notice = load_settings()
    assert notice is None
    assert loaded.tempo == 120.0 and loaded.buffer == 128
    assert loaded.mixer["lead"].volume == 0.3 and loaded.mixer["click"] == Settings().mixer["click"]


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{not json", "Expecting property name"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"version": 0, "tempo": 100}), "settings version 0"),
        (json.dumps({"version": SETTINGS_VERSION + 1}), f"settings version {SETTINGS_VERSION + 1}"),
        (json.dumps({"version": SETTINGS_VERSION, "tempo": "fast"}), "'tempo' has the wrong type"),
        (json.dumps({"version": SETTINGS_VERSION, "buffer": 3}), "buffer 3 is not 16..8192"),
        (json.dumps({"version": SETTINGS_VERSION, "click": 1}), "'click' has the wrong type"),
        (json.dumps({"version": SETTINGS_VERSION, "mixer": {"lead": {"volume": 7}}}), "volume 7"),
        (json.dumps({"version": SETTINGS_VERSION, "song_key": "H"}), "song key 'H' is not one of"),
    ],
)
def test_bad_or_old_file_is_backed_up_and_replaced_by_defaults(fresh_config, content, reason):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    loaded, notice = load_settings()
    assert loaded == Settings()
    assert reason in notice and "defaults" in notice
    backups = list(fresh_config.glob("settings.json.bad-*"))
    assert len(backups) == 1 and backups[0].read_text() == content
    assert not path.exists()


def test_window_shows_the_notice_and_saves_good_settings(qtbot, fresh_config, presets):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00\xff garbage")
    window = open_window(qtbot)
    assert notice_with(window, "Settings file was unusable")
    assert list(fresh_config.glob("settings.json.bad-*"))
    window.transport.tempo.setValue(133)
    window.mixer.rows["accomp"]["volume"].setValue(40)
    window.close()
    loaded, notice = load_settings()
    assert notice is None
    assert loaded.tempo == 133 and loaded.mixer["accomp"].volume == 0.4
    assert loaded.window_geometry and loaded.window_state


def test_window_restores_saved_settings(qtbot, fresh_config, presets):
    write_settings(tempo=87, count_in=2, click=False, preset=str(presets["tiny-chorale"]), mixer={"accomp": {"program": 19}})
    window = open_window(qtbot)
    assert window.transport.tempo.value() == 87 and window.transport.count_in.value() == 2
    assert not window.transport.click.isChecked()
    assert window.mixer.rows["accomp"]["program"].currentIndex() == 19
    assert window.player.path == presets["tiny-chorale"]
    assert window.notices.texts() == [] or all("Audio" in t or "MIDI" in t for t in window.notices.texts())


def test_the_songs_key_is_chosen_in_the_transport_kept_and_told_to_the_band(qtbot, fresh_config, presets):
    from accomp.gui.player import session_spec
    from accomp.music.keys import KeyHint

    write_settings(song_key="Bb", preset=str(presets["tiny-pop"]))
    window = open_window(qtbot)
    box = window.transport.song_key
    assert box.currentData() == "Bb" and session_spec(window.settings).key_hint() == KeyHint.parse("Bb")
    box.setCurrentIndex(box.findData("F#m"))
    assert window.settings.song_key == "F#m"
    box.setCurrentIndex(box.findData(""))  # heard: the band is told nothing
    assert window.settings.song_key == "" and session_spec(window.settings).key_hint() is None
    box.setCurrentIndex(box.findData("Ebm"))
    window.transport.set_playing(True)
    assert not box.isEnabled()  # the key is told at the start of a play
    window.transport.set_playing(False)
    window.close()
    loaded, notice = load_settings()
    assert notice is None and loaded.song_key == "Ebm"
