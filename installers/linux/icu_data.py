"""Trim the ICU data library Qt brings (libicudata.so.NN, 32 MB) to the data Qt can use (8 MB).

    .venv/bin/python installers/linux/icu_data.py LIBRARY      (build.sh runs it on the bundle's)

Qt Core links ICU for four things only (its undefined ICU symbols): collation (QCollator:
ucol_*), calendars and time-zone ids (QTimeZone: ucal_*), locale-aware case mapping
(u_strToUpper/Lower, whose tables are built into libicuuc) and converters for legacy
character sets by name (QStringConverter: ucnv_*). Qt's own code does text boundaries,
number and date formatting; no other Qt library in the bundle calls ICU. So this keeps the
collation tree (every language's sort order), the locales' own data and the supplemental
tables calendars read, the time-zone rules and the normalisation and converter-alias
tables, and leaves out what no function Qt calls reads: break iterators, transliterators,
spelled-out numbers, unit, currency, language, region and time-zone display names (Qt
asks ICU for a zone's display name for QTimeZone::displayName and the long date formats'
zone names, which the app never shows: they come out empty), character names, spoof
checks, IDNA2003 profiles and the legacy character-set tables (the app reads and writes
UTF-8 only; ICU's algorithmic converters, UTF-* and ISO-8859-1, need none, and the other
character sets' names are still known but their converters are not valid). Checked with
PySide6 against the full data: QCollator sorts alike in English, German, Swedish, Chinese,
Japanese and Turkish, and case mapping, time zones and calendars work as before.

The data is one ICU "common data" package, the library's only exported symbol
(``icudtNN_dat``): a header, a table of contents (count, then per item the offsets of its
name and its data, from the table's start; sorted by name, as ICU's binary search needs),
the names, and the items, each aligned to 16 bytes. The trimmed package keeps the header
and the kept items byte for byte; the new library exports it under the same name and
soname, made with the C compiler (``cc``, from build-essential, which install.sh installs).
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

DROP_TREES = ("brkitr/", "translit/", "rbnf/", "unit/", "curr/", "lang/", "region/", "zone/")
DROP_SUFFIXES = (".cnv", ".spp", ".cfu")  # legacy character sets, IDNA2003 profiles, spoof checks
DROP_FILES = ("unames.icu",)  # character names


def kept(name: str) -> bool:
    """``name`` is an item's name inside the package, e.g. ``coll/root.res``."""
    return not (name.startswith(DROP_TREES) or name.endswith(DROP_SUFFIXES) or name in DROP_FILES)


def data_symbol(library: Path) -> tuple[str, int, int]:
    """(name, file offset, size) of the library's ``icudtNN_dat``."""
    out = subprocess.run(["nm", "-D", "-S", "--defined-only", str(library)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and re.fullmatch(r"icudt\d+_dat", parts[3]):
            address, size = int(parts[0], 16), int(parts[1], 16)
            return parts[3], file_offset(library, address), size
    raise SystemExit(f"icu_data.py: no icudtNN_dat symbol in {library}")


def file_offset(library: Path, address: int) -> int:
    """The file offset of a virtual address, from the ELF64 program headers."""
    raw = library.read_bytes()[:4096]
    phoff, phentsize, phnum = struct.unpack_from("<Q", raw, 32)[0], *struct.unpack_from("<HH", raw, 54)
    for i in range(phnum):
        kind, _, offset, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", raw, phoff + i * phentsize)
        if kind == 1 and vaddr <= address < vaddr + filesz:  # PT_LOAD
            return address - vaddr + offset
    raise SystemExit(f"icu_data.py: address {address:#x} is in no segment of {library}")


def trim(package: bytes) -> tuple[bytes, int, int]:
    """The package with only the kept items; (package, items before, items after)."""
    header_size, magic1, magic2 = struct.unpack_from("<HBB", package, 0)
    if (magic1, magic2) != (0xDA, 0x27) or package[12:16] != b"CmnD":
        raise SystemExit("icu_data.py: the symbol holds no ICU common data package")
    count = struct.unpack_from("<I", package, header_size)[0]
    toc = [struct.unpack_from("<II", package, header_size + 4 + 8 * i) for i in range(count)]
    ends = [offset for _, offset in toc[1:]] + [len(package) - header_size]
    items = []
    for (name_at, data_at), data_end in zip(toc, ends, strict=True):
        start = header_size + name_at
        name = package[start : package.index(b"\0", start)]
        prefix, _, inner = name.decode("ascii").partition("/")  # "icudt73l/coll/root.res"
        if kept(inner):
            items.append((name, package[header_size + data_at : header_size + data_end]))
    names_at = 4 + 8 * len(items)
    names = b"".join(name + b"\0" for name, _ in items)
    data_at = names_at + len(names)
    data_at += -(header_size + data_at) % 16
    toc_bytes, blob, name_offset = struct.pack("<I", len(items)), bytearray(), names_at
    for name, data in items:
        toc_bytes += struct.pack("<II", name_offset, data_at + len(blob))
        name_offset += len(name) + 1
        blob += data + b"\0" * (-len(data) % 16)
    body = toc_bytes + names + b"\0" * (data_at - names_at - len(names))
    return package[:header_size] + body + bytes(blob), count, len(items)


def build_library(symbol: str, soname: str, package: bytes, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.bin"
        data.write_bytes(package)
        source = Path(tmp) / "data.S"
        source.write_text(
            f'\t.section .rodata\n\t.globl {symbol}\n\t.type {symbol}, @object\n\t.balign 16\n{symbol}:\n'
            f'\t.incbin "{data}"\n\t.size {symbol}, . - {symbol}\n\t.section .note.GNU-stack, "", @progbits\n'
        )
        subprocess.run(["cc", "-shared", "-nostdlib", f"-Wl,-soname,{soname}", "-o", str(out), str(source)], check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("library", type=Path, help="libicudata.so.NN, replaced in place")
    args = ap.parse_args()
    library = args.library.resolve()
    symbol, offset, size = data_symbol(library)
    package, before, after = trim(library.read_bytes()[offset : offset + size])
    tmp = library.with_name(library.name + ".tmp")
    build_library(symbol, library.name, package, tmp)
    os.replace(tmp, library)
    print(f"icu_data.py: {library.name}: {before} items in {size / 1e6:.1f} MB -> {after} in {len(package) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
