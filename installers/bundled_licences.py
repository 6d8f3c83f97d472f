"""List what a PyInstaller build bundled, with versions and licences (for THIRD_PARTY_LICENSES).

    .venv/bin/python installers/bundled_licences.py [WORKDIR] [--texts DIR]

WORKDIR is PyInstaller's work folder of the build (default: build/pyinstaller/work/accomp,
where installers/linux/build.sh puts it). Every file in the bundle (the modules in its
archive, the libraries and data beside it) is traced back to the Python distribution that
installed it (its RECORD) or, for files from the system, to its Debian package (dpkg -S).
Prints two tables: the Python distributions and the system packages. With ``--texts DIR``
also copies their licence texts there (build.sh puts them in the bundle's ``licenses/``):
each distribution's licence files, each Debian package's copyright file, CPython's licence
and the common licences (GPL, LGPL, Apache, MPL) those refer to.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata as md
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


def bundled_sources(work: Path) -> set[str]:
    """Absolute source paths of every file the build put in the bundle."""
    sources = set()
    for toc_name in ("COLLECT-00.toc", "PYZ-00.toc"):
        toc = ast.literal_eval((work / toc_name).read_text())
        entries = toc[1] if toc_name.startswith("PYZ") else toc[0]
        sources.update(os.path.realpath(src) for _, src, _ in entries if src)
    return sources


def licence_of(dist: md.Distribution) -> str:
    meta = dist.metadata
    if meta.get("License-Expression"):
        return meta["License-Expression"]
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    text = (meta.get("License") or "").strip()
    if classifiers:
        return "; ".join(classifiers)
    return text.splitlines()[0][:70] if text else "see its metadata"


def python_distributions(sources: set[str]) -> tuple[dict[str, md.Distribution], set[str]]:
    """(name -> distribution) of the distributions that own a bundled file; the files none owns."""
    owner: dict[str, md.Distribution] = {}
    for dist in md.distributions():
        for file in dist.files or []:
            owner[os.path.realpath(dist.locate_file(file))] = dist
    found, unowned = {}, set()
    for src in sources:
        dist = owner.get(src)
        if dist is None:
            unowned.add(src)
        else:
            found[dist.metadata["Name"]] = dist
    return found, unowned


def debian_packages(paths: set[str]) -> dict[str, list[str]]:
    packages: dict[str, list[str]] = defaultdict(list)
    for path in sorted(paths):
        out = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True).stdout
        if not out and path.startswith("/usr/"):  # dpkg knows merged-/usr files under /lib
            out = subprocess.run(["dpkg", "-S", path[4:]], capture_output=True, text=True).stdout
        package = out.split(":")[0] if out else "?"
        packages[package].append(Path(path).name)
    return packages


LICENCE_WORDS = ("licen", "copying", "notice", "authors")
COMMON_LICENCES = ("GPL-2", "GPL-3", "LGPL-2.1", "LGPL-3", "Apache-2.0", "MPL-2.0")


def copy_texts(dists: dict[str, md.Distribution], packages: list[str], out: Path) -> int:
    """Licence texts of the bundled distributions and packages into ``out``; how many files."""
    copied = 0

    def put(src: Path, dst: Path) -> None:
        nonlocal copied
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            copied += 1

    for name, dist in dists.items():
        for file in dist.files or []:
            if any(word in file.name.lower() for word in LICENCE_WORDS) and not file.name.endswith((".py", ".pyc")):
                put(Path(dist.locate_file(file)), out / "python" / name / file)
    put(Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "LICENSE.txt",
        out / "python" / "CPython" / "LICENSE.txt")
    for package in packages:
        put(Path("/usr/share/doc") / package.split(":")[0] / "copyright", out / "debian" / f"{package.split(':')[0]}.copyright")
    for licence in COMMON_LICENCES:
        put(Path("/usr/share/common-licenses") / licence, out / "common" / licence)
    return copied


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", nargs="?", type=Path, default=Path("build/pyinstaller/work/accomp"))
    ap.add_argument("--texts", type=Path, help="copy the licence texts into this folder")
    args = ap.parse_args()
    sources = bundled_sources(args.work)
    dists, unowned = python_distributions(sources)
    print(f"{'distribution':28} {'version':16} licence")
    for name in sorted(dists, key=str.lower):
        print(f"{name:28} {dists[name].version:16} {licence_of(dists[name])}")
    python = {p for p in unowned if p.startswith(os.path.realpath(sys.base_prefix) + "/")}
    print(f"{'CPython (interpreter, stdlib)':28} {sys.version.split()[0]:16} PSF-2.0 ({len(python)} files from {sys.base_prefix})")
    system = {p for p in unowned - python if not p.startswith(str(Path.cwd()))}
    print(f"\n{'Debian package':28} {'version':16} files")
    packages = debian_packages(system)
    for package, files in sorted(packages.items()):
        version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package.split(":")[0]],
                                 capture_output=True, text=True).stdout if package != "?" else ""
        shown = ", ".join(sorted(files)[:3]) + (f" (+{len(files) - 3})" if len(files) > 3 else "")
        print(f"{package:28} {version:16} {shown}")
    if args.texts:
        count = copy_texts(dists, [p for p in packages if p != "?"], args.texts)
        print(f"\n{count} licence files copied to {args.texts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
