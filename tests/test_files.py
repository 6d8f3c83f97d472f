"""The one atomic-write helper: a whole new file or the old one, never half, never a stray temporary."""

from __future__ import annotations

import pytest

from accomp.files import replacing, temp_path, write_text


def test_write_text_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "settings.json"
    target.write_text("old")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "preset.safetensors"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp:
            assert tmp == temp_path(target) and tmp.parent == tmp_path
            tmp.write_text("half")
            raise RuntimeError("the disk is full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["preset.safetensors"]


def test_a_folder_that_is_not_there_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        write_text(tmp_path / "missing" / "x.json", "{}")
