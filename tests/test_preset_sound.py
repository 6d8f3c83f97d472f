"""A preset carries its sound: its name, its accompaniment's instrument, its bass and drums
(`accomp preset sound`), used by render and play, the recording and the window; the user's
flags and mixer override it."""

from __future__ import annotations

import shutil

import mido
import pytest

from accomp.cli import main
from accomp.config import RESOURCES
from accomp.model.checkpoint import file_hash, read_tensors
from accomp.model.preset import PRESET_FORMAT, PRESET_VERSION, accomp_program, update_preset_header
from accomp.errors import PresetError

CHART = RESOURCES / "charts" / "pop_axis.txt"


@pytest.fixture()
def preset(tmp_path):
    path = tmp_path / "mine.safetensors"
    shutil.copyfile(RESOURCES / "presets" / "pop.safetensors", path)
    return path


def header(path):
    return read_tensors(path, PRESET_FORMAT, PRESET_VERSION)[0]


def render(tmp_path, preset, *flags) -> mido.MidiFile:
    out = tmp_path / "out.mid"
    assert main(["render", "--chart", str(CHART), "--preset", str(preset), "-o", str(out), *flags]) == 0
    return mido.MidiFile(out)


def programs(midi: mido.MidiFile) -> dict[str, int]:
    return {t.name: m.program for t in midi.tracks for m in t if m.type == "program_change"}


def test_a_preset_names_its_sound_and_render_uses_it(tmp_path, preset, capsys):
    assert main(["preset", "sound", str(preset), "--no-bass", "--drums", "off"]) == 0  # no band, whatever pop's is
    update_preset_header(preset, instruments={})
    plain = render(tmp_path, preset)
    assert [t.name for t in plain.tracks] == ["conductor", "lead", "accomp"] and programs(plain) == {}
    tensors_before = read_tensors(preset, PRESET_FORMAT, PRESET_VERSION)[1]
    assert main(["preset", "sound", str(preset), "--name", "Organ trio", "--accomp-program", "19", "--bass",
                 "--drums", "rock", "--bass-program", "34"]) == 0  # fmt: skip
    assert "'Organ trio', accompaniment on GM program 19, bass, rock drums" in capsys.readouterr().out.splitlines()[-1]
    h = header(preset)
    assert h["style"]["name"] == "Organ trio" and h["style"]["weights"] == header(RESOURCES / "presets" / "pop.safetensors")["style"]["weights"]
    assert h["instruments"] == {"accomp": 19} and h["band"]["bass"] is True and h["band"]["drums"] == "rock"
    after = read_tensors(preset, PRESET_FORMAT, PRESET_VERSION)[1]
    assert all((after[k] == v).all() for k, v in tensors_before.items())  # the model itself is untouched

    midi = render(tmp_path, preset)
    assert [t.name for t in midi.tracks] == ["conductor", "lead", "accomp", "bass", "drums"]
    assert programs(midi) == {"accomp": 19, "bass": 34}
    midi = render(tmp_path, preset, "--accomp-program", "5", "--no-bass", "--drums", "off")  # the user's flags win
    assert [t.name for t in midi.tracks] == ["conductor", "lead", "accomp"] and programs(midi) == {"accomp": 5}

    assert main(["preset", "sound", str(preset), "--no-bass"]) == 0  # one change; the rest stays
    h = header(preset)
    assert h["band"]["bass"] is False and h["band"]["drums"] == "rock" and h["instruments"] == {"accomp": 19}


def test_wrong_sounds_are_one_line_errors_and_change_nothing(tmp_path, preset, capsys):
    digest = file_hash(preset)
    for flags, message in ((["--accomp-program", "200"], "0..127"), (["--drums", "polka"], "no drum pattern 'polka'"),
                           (["--bass-program", "-1"], "bass program"), (["--name", "  "], "1 to 60 characters")):  # fmt: skip
        assert main(["preset", "sound", str(preset), *flags]) != 0
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0, err
    assert file_hash(preset) == digest
    assert main(["preset", "sound", str(tmp_path / "nope.safetensors"), "--bass"]) != 0
    with pytest.raises(PresetError, match="General MIDI program"):
        accomp_program({"instruments": {"accomp": "piano"}})
    assert accomp_program({}) is None


def test_the_window_takes_a_chosen_presets_sound_into_its_mixer(qtbot, preset, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    from gui_support import WAIT_MS, open_window, write_settings

    monkeypatch.setenv("ACCOMP_CONFIG_DIR", str(tmp_path / "config"))
    assert main(["preset", "sound", str(preset), "--accomp-program", "19", "--drums", "bossa", "--bass"]) == 0
    write_settings(preset=str(RESOURCES / "presets" / "chorale.safetensors"), bass=False, drums="off")
    window = open_window(qtbot)
    assert not window.settings.bass and window.settings.drums == "off"  # the saved choice stays as it was
    window.mixer.rows["lead"]["program"].setCurrentIndex(40)
    window.choose_preset(preset)
    qtbot.waitUntil(lambda: window.player is not None and window.player.path == preset, timeout=WAIT_MS)
    s = window.settings
    assert s.mixer["accomp"].program == 19 and s.bass and s.drums == "bossa"
    assert window.mixer.rows["accomp"]["program"].currentIndex() == 19 and window.mixer.rows["drums"]["pattern"].currentText() == "bossa"
    assert s.mixer["lead"].program == 40  # the player's own part is theirs
    window.mixer.rows["accomp"]["program"].setCurrentIndex(4)  # and the user may change it again
    assert window.settings.mixer["accomp"].program == 4


def test_a_bundled_preset_by_name_is_not_rewritten_and_save_as_makes_one_of_your_own(tmp_path, monkeypatch, capsys):
    """`preset sound pop --accomp-program 5` rewrote the bundled preset that every user of
    the copy shares (and a `git pull` would fight over): by name it is refused with the way
    on, and `--save-as NAME` writes the user's own preset with the new sound."""
    from accomp.model.preset import load_preset, resolve_preset

    monkeypatch.setenv("ACCOMP_DATA_DIR", str(tmp_path / "data"))
    bundled = RESOURCES / "presets" / "pop.safetensors"
    digest = file_hash(bundled)
    for argv in (["preset", "sound", "pop", "--accomp-program", "5"], ["preset", "calibrate", "pop"]):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert "'pop' is a bundled preset" in err and str(bundled) in err and err.count("\n") == 0, err
    assert file_hash(bundled) == digest

    assert main(["preset", "sound", "pop", "--accomp-program", "5", "--drums", "bossa", "--save-as", "bossa-pop"]) == 0
    mine = tmp_path / "data" / "presets" / "bossa-pop.safetensors"
    assert resolve_preset("bossa-pop") == mine and file_hash(bundled) == digest
    h = header(mine)
    assert h["style"]["name"] == "bossa-pop" and h["instruments"] == {"accomp": 5} and h["band"]["drums"] == "bossa"
    load_preset(mine)  # it finds its teacher and plays, kept in the user's folder too (an update may replace the bundled one)
    assert [p.stem.split("-")[0] for p in (tmp_path / "data" / "teachers").glob("*.safetensors")] == ["teacher"]
    midi = render(tmp_path, "bossa-pop")
    assert programs(midi)["accomp"] == 5
    capsys.readouterr()
    for name, message in (("bossa-pop", "already"), ("chorale", "name of a bundled preset"), ("../up", "cannot name a preset")):
        assert main(["preset", "sound", "pop", "--bass", "--save-as", name]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0, err
    assert not (tmp_path / "data" / "up.safetensors").exists()
    assert main(["preset", "sound", "bossa-pop", "--no-bass"]) == 0  # the user's own, by name: changed in place
    assert header(mine)["band"]["bass"] is False
