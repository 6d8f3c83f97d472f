"""List what a PyInstaller build bundled, with versions and licences (for THIRD_PARTY_LICENSES).

    .venv/bin/python installers/bundled_licences.py [WORKDIR]

WORKDIR is PyInstaller's work folder of the build (default: build/pyinstaller/work/accomp,
where installers/linux/build.sh puts it). Every file in the bundle (the modules in its
archive, the libraries and data beside it) is traced back to the Python distribution that
installed it (its RECORD) or, for files from the system, to its Debian package (dpkg -S).
Prints two tables: the Python distributions and the system packages.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
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


def main() -> int:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else "build/pyinstaller/work/accomp")
    sources = bundled_sources(work)
    dists, unowned = python_distributions(sources)
    print(f"{'distribution':28} {'version':16} licence")
    for name in sorted(dists, key=str.lower):
        print(f"{name:28} {dists[name].version:16} {licence_of(dists[name])}")
    python = {p for p in unowned if p.startswith(os.path.realpath(sys.base_prefix) + "/")}
    print(f"{'CPython (interpreter, stdlib)':28} {sys.version.split()[0]:16} PSF-2.0 ({len(python)} files from {sys.base_prefix})")
    system = {p for p in unowned - python if not p.startswith(str(Path.cwd()))}
    print(f"\n{'Debian package':28} {'version':16} files")
    for package, files in sorted(debian_packages(system).items()):
        version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package.split(":")[0]],
                                 capture_output=True, text=True).stdout if package != "?" else ""
        shown = ", ".join(sorted(files)[:3]) + (f" (+{len(files) - 3})" if len(files) > 3 else "")
        print(f"{package:28} {version:16} {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
