"""installers/linux/icu_data.py: Qt's ICU data trimmed to what Qt can use.

The package rewrite is checked on a small package made here; the whole step on the ICU
data library of the PySide6 in this environment, with Qt loading the trimmed data (in a
subprocess, LD_PRELOAD) and doing what it asks ICU for as it does with the full data.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "installers" / "linux" / "icu_data.py"
spec = importlib.util.spec_from_file_location("icu_data", SCRIPT)
icu_data = importlib.util.module_from_spec(spec)
spec.loader.exec_module(icu_data)


def package(items: dict[str, bytes], prefix: str = "icudt99l") -> bytes:
    """A common data package as ICU's tools lay it out (header, table, names, 16-byte aligned items)."""
    header = struct.pack("<HBB", 32, 0xDA, 0x27) + struct.pack("<HHBBBB", 20, 0, 0, 0, 2, 0) + b"CmnD"
    header += b"\1\0\0\0" + b"\0" * 4
    header += b"\0" * (32 - len(header))
    names = [f"{prefix}/{name}".encode() for name in sorted(items)]
    names_at = 4 + 8 * len(names)
    blob = b"".join(name + b"\0" for name in names)
    data_at = names_at + len(blob)
    data_at += -(32 + data_at) % 16
    table, data, offset = struct.pack("<I", len(names)), b"", names_at
    for name, key in zip(names, sorted(items), strict=True):
        table += struct.pack("<II", offset, data_at + len(data))
        offset += len(name) + 1
        data += items[key] + b"\0" * (-len(items[key]) % 16)
    return header + table + blob + b"\0" * (data_at - names_at - len(blob)) + data


def unpack(raw: bytes) -> dict[str, bytes]:
    """(name -> data, padding included) of a package; checks the alignment and the order."""
    header_size = struct.unpack_from("<H", raw, 0)[0]
    count = struct.unpack_from("<I", raw, header_size)[0]
    toc = [struct.unpack_from("<II", raw, header_size + 4 + 8 * i) for i in range(count)]
    ends = [offset for _, offset in toc[1:]] + [len(raw) - header_size]
    out = {}
    for (name_at, data_at), end in zip(toc, ends, strict=True):
        assert (header_size + data_at) % 16 == 0
        start = header_size + name_at
        out[raw[start : raw.index(b"\0", start)].decode()] = raw[header_size + data_at : header_size + end]
    assert list(out) == sorted(out)
    return out


def test_trimming_keeps_the_kept_items_byte_for_byte():
    items = {
        "coll/root.res": b"collation" * 7, "coll/ucadata.icu": b"u" * 33, "root.res": b"locale root",
        "zoneinfo64.res": b"zones" * 5, "cnvalias.icu": b"aliases", "uts46.nrm": b"n" * 16,
        "brkitr/word.brk": b"breaks", "zone/en.res": b"zone names", "lang/de.res": b"Sprachen",
        "ibm-1252_P100-2000.cnv": b"cp1252", "unames.icu": b"names", "rfc3491.spp": b"prep",
    }  # fmt: skip
    trimmed, before, after = icu_data.trim(package(items))
    kept = unpack(trimmed)
    assert (before, after) == (len(items), 6)
    assert sorted(name.split("/", 1)[1] for name in kept) == sorted(
        ["coll/root.res", "coll/ucadata.icu", "root.res", "zoneinfo64.res", "cnvalias.icu", "uts46.nrm"])
    for name, data in kept.items():
        original = items[name.split("/", 1)[1]]
        assert data[: len(original)] == original and not data[len(original) :].strip(b"\0")
    assert trimmed[:32] == package(items)[:32]  # the header as it was


def test_what_is_not_a_package_is_refused():
    with pytest.raises(SystemExit, match="no ICU common data"):
        icu_data.trim(b"\0" * 64)


QT_ICU = """
import functools
from PySide6.QtCore import QCollator, QDate, QDateTime, QLocale, QStringDecoder, QTime, QTimeZone
words = ["zebra", "Äpfel", "apple", "Ångström", "öl", "Zoo", "été", "eta", "中文", "日本", "file10", "file9"]
for name in ("en_US", "de_DE", "sv_SE", "zh_CN", "ja_JP", "tr_TR"):
    collator = QCollator(QLocale(name))
    collator.setNumericMode(True)
    print(name, sorted(words, key=functools.cmp_to_key(collator.compare)))
print(QLocale("tr_TR").toUpper("istanbul"), QLocale("de_DE").toUpper("straße"), QLocale("el_GR").toLower("ΣΑΣ"))
berlin = QTimeZone(b"Europe/Berlin")
winter = QDateTime(QDate(2024, 1, 15), QTime(12, 0), QTimeZone.utc())
print(berlin.isValid(), berlin.offsetFromUtc(winter), len(QTimeZone.availableTimeZoneIds()),
      QStringDecoder("UTF-8").isValid(), QStringDecoder("ISO-8859-1").isValid())
print("zone name:", berlin.displayName(QTimeZone.TimeType.StandardTime, QTimeZone.NameType.LongName, QLocale("en_US")))
print("cp1252:", QStringDecoder("windows-1252").isValid())
"""


def qt_icu(preload: Path | None) -> list[str]:
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8"}
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    out = subprocess.run([sys.executable, "-c", QT_ICU], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


@pytest.mark.skipif(not (shutil.which("cc") and shutil.which("nm")), reason="needs a C compiler and nm")
def test_qt_with_the_trimmed_data_does_what_the_app_may_ask_of_icu(tmp_path):
    pyside = importlib.util.find_spec("PySide6")
    full = next((Path(pyside.origin).parent / "Qt" / "lib").glob("libicudata.so.*"), None)
    if full is None:
        pytest.skip("this PySide6 brings no ICU data library")
    trimmed = tmp_path / full.name
    shutil.copyfile(full, trimmed)
    subprocess.run([sys.executable, str(SCRIPT), str(trimmed)], check=True, capture_output=True, timeout=120)
    assert os.path.getsize(trimmed) < os.path.getsize(full) / 3
    before, after = qt_icu(None), qt_icu(trimmed)
    assert after[:-2] == before[:-2]  # collation in six languages, case mapping, time zones, UTF-8 and Latin-1
    assert before[-2:] == ["zone name: Central European Standard Time", "cp1252: True"]
    assert after[-2:] == ["zone name: ", "cp1252: False"]  # what is left out, as its docstring says
