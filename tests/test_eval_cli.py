"""``accomp eval`` end to end through ``accomp.cli.main`` on tiny MIDI files."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from accomp.cli import main
from accomp.config import DEFAULT_SPEC
from accomp.music.frames import Piece, notes_to_roll, piece_to_midi, save_midi

ROW_NAMES = ("human reference", "rule-based harmonizer", "static tonic")


def roll(n_steps: int, notes: list[tuple[int, int, int]]) -> np.ndarray:
    """(start_step, end_step, MIDI pitch) notes -> a roll."""
    return notes_to_roll([(s, e, p - DEFAULT_SPEC.lowest_pitch) for s, e, p in notes], n_steps, DEFAULT_SPEC)


# a C-major melody outlining I-IV-V-I, one chord per beat, and that cadence as chords
MELODY = [72, 76, 79, 76, 77, 81, 84, 81, 79, 83, 86, 83, 84, 79, 76, 72]
LEAD = roll(16, [(i, i + 1, p) for i, p in enumerate(MELODY)])
I_IV_V_I = [(48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55)]
CADENCE = roll(16, [(b * 4, b * 4 + 4, p) for b, chord in enumerate(I_IV_V_I) for p in chord])


def _piece(piece_id: str, accomp: np.ndarray, style: str = "test") -> Piece:
    lead = np.concatenate([LEAD, LEAD])
    return Piece(piece_id=piece_id, style=style, spec=DEFAULT_SPEC, tracks={"lead": lead, "accomp": accomp})


def _write(folder: Path, piece: Piece) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{piece.piece_id}.mid"
    save_midi(piece_to_midi(piece), path)
    return path


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A folder 'model' of two outputs: a held tonic chord and the cadence twice."""
    folder = tmp_path / "model"
    _write(folder, _piece("001", roll(32, [(0, 32, p) for p in (48, 52, 55)])))
    _write(folder, _piece("002", np.concatenate([CADENCE, CADENCE])))
    return folder


def _table_rows(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines()[3:]:
        for name in (*ROW_NAMES, "model", "other"):
            if line.startswith(name):
                rows[name] = line[len(name) :].split()
    return rows


def test_files_without_corpus_compare_with_baselines_on_their_leads(model_dir, tmp_path, capsys):
    out_json = tmp_path / "eval.json"
    assert main(["eval", str(model_dir), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "files: 2 piece(s)"
    rows = _table_rows(out)
    assert set(rows) == {"rule-based harmonizer", "static tonic", "model"}
    assert all(len(cells) == 9 for cells in rows.values())
    data = json.loads(out_json.read_text())
    assert data["n_pieces"] == 2 and data["corpus"] is None and data["split"] is None
    assert list(data["rows"]) == ["rule-based harmonizer", "static tonic", "model"]
    model = data["rows"]["model"]
    assert model["chord_agreement"] is None and model["pc_overlap"] is None  # no reference
    assert model["consonance"] > 0.9 and model["activity"] == 1.0
    assert data["rows"]["static tonic"]["diversity"] == 0.0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_one_row_per_folder_of_files(model_dir, tmp_path, capsys):
    other = _write(tmp_path / "other", _piece("001", np.zeros((32, 2, 88), np.uint8)))
    files = sorted(str(p) for p in model_dir.iterdir()) + [str(other)]
    assert main(["eval", *files]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert set(rows) == {"rule-based harmonizer", "static tonic", "model", "other"}
    assert rows["other"][6] == "0.000"  # silent: no activity


@pytest.fixture
def fake_corpus(monkeypatch):
    """Stand in for accomp.music.corpora: the reference pieces 001 and 002 in 'val'."""
    refs = [_piece(f"pop909/00{i}", np.concatenate([CADENCE, CADENCE])) for i in (1, 2)]
    module = types.ModuleType("accomp.music.corpora")
    calls = []

    def load_corpus(kind, path, spec=DEFAULT_SPEC, *, style=None, use_cache=True, progress=False):
        calls.append((kind, path, use_cache))
        return types.SimpleNamespace(pieces=refs, skipped=[("bad.mid", "no notes")], style="pop")

    module.load_corpus = load_corpus
    module.split_pieces = lambda pieces, split: list(pieces)
    monkeypatch.setitem(sys.modules, "accomp.music.corpora", module)
    return calls


def test_corpus_prints_human_vs_baselines(fake_corpus, tmp_path, capsys):
    out_json = tmp_path / "eval.json"
    assert main(["eval", "--corpus", "pop909", "--path", "x", "--no-cache", "--json", str(out_json)]) == 0
    captured = capsys.readouterr()
    assert fake_corpus == [("pop909", "x", False)]
    assert "1 file(s) of the corpus skipped" in captured.err
    assert captured.out.splitlines()[0] == "pop909 val: 2 piece(s)"
    rows = _table_rows(captured.out)
    assert set(rows) == set(ROW_NAMES)
    data = json.loads(out_json.read_text())
    assert data["corpus"] == "pop909" and data["split"] == "val" and data["n_pieces"] == 2
    human, static = data["rows"]["human reference"], data["rows"]["static tonic"]
    assert human["chord_agreement"] == 1.0 and human["pc_overlap"] == pytest.approx(1.0)
    assert static["chord_agreement"] == pytest.approx(0.5) and static["diversity"] == 0.0
    assert main(["eval", "--corpus", "pop909", "--max-pieces", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "pop909 val: 1 piece(s)"


def test_files_with_corpus_get_the_human_row_by_piece_id(fake_corpus, model_dir, capsys):
    assert main(["eval", str(model_dir), "--corpus", "pop909"]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert set(rows) == {*ROW_NAMES, "model"}
    assert rows["human reference"][2] == "1.000"  # chord agreement with itself
    assert rows["model"][2] == "0.750"  # 002 agrees on every beat, 001 (held tonic) on half


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval"], "nothing to evaluate"),
        (["eval", "missing.mid"], "no such file"),
        (["eval", "--max-pieces", "0", "x.mid"], "--max-pieces"),
    ],
)
def test_errors_are_one_line(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_files_are_one_line_errors(tmp_path, capsys):
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    no_accomp = _write(tmp_path / "lead_only", Piece("x", "t", DEFAULT_SPEC, tracks={"lead": LEAD}))
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    cases = [(broken, "not a readable MIDI file"), (no_accomp, "no accompaniment"), (empty_dir, "no MIDI files")]
    for arg, message in cases:
        assert main(["eval", str(arg)]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
