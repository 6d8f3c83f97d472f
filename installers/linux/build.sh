#!/usr/bin/env bash
# Build the Linux bundle: dist/accomp-linux-x86_64.tar.gz, a folder that runs anywhere it
# is unpacked (x86_64, glibc 2.35 or newer), with no Python, venv or repository beside it.
#
#   installers/linux/build.sh            from the repository root (or anywhere in it)
#
# Steps: ./install.sh (the system packages and .venv, with the CPU build of torch), then
# PyInstaller from PyPI into .venv, a one-folder build from installers/linux/accomp.spec
# (outputs under build/), Qt's ICU data trimmed to what Qt uses (installers/linux/icu_data.py),
# and the tarball under dist/. The tarball's folder holds:
#   accomp              the launcher (the same CLI as .venv/bin/accomp; no argument: the window)
#   accomp-bin, _internal/   the program, its Python, libraries, models and SoundFont
#   accomp.desktop, accomp.png, add-to-menu.sh   the menu entry and what installs it
#   README.txt, THIRD_PARTY_LICENSES, licenses/ (BUNDLED.txt: what is inside, with versions;
#   the licence texts of each library, package and the SoundFont)
#
# Environment:
#   ACCOMP_TORCH_INDEX=URL       as for install.sh; when unset and pip's configuration gives a
#                                CUDA build, the CPU build is put in from PyTorch's CPU index
#   ACCOMP_BUNDLE_SOUNDFONT=FILE the SoundFont to bundle (default: Debian's FluidR3Mono_GM.sf3,
#                                which install.sh installs)
set -euo pipefail

PYINSTALLER_VERSION=6.22.3
CPU_TORCH_INDEX=https://download.pytorch.org/whl/cpu
NAME=accomp-linux-x86_64

say() { printf 'build.sh: %s\n' "$*"; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

cd "$(dirname "$0")/../.."
start=$(date +%s)

./install.sh
py=.venv/bin/python
torch_cuda() { "$py" -c 'import torch; print(torch.version.cuda or "")'; }
if [[ -n $(torch_cuda) ]]; then
    [[ -z ${ACCOMP_TORCH_INDEX:-} ]] || die "ACCOMP_TORCH_INDEX gives a CUDA build of torch; the bundle takes the CPU build ($CPU_TORCH_INDEX)"
    say "replacing the CUDA build of torch in .venv with the CPU build"
    ACCOMP_TORCH_INDEX=$CPU_TORCH_INDEX ./install.sh
    [[ -z $(torch_cuda) ]] || die "torch in .venv is still a CUDA build"
fi

if [[ $("$py" -m pip show pyinstaller 2>/dev/null | sed -n 's/^Version: //p') != "$PYINSTALLER_VERSION" ]]; then
    say "installing PyInstaller $PYINSTALLER_VERSION into .venv"
    "$py" -m pip install -qq "pyinstaller==$PYINSTALLER_VERSION"
fi

stage=build/$NAME
rm -rf "$stage" build/pyinstaller
mkdir -p build dist

say "drawing the icon"
QT_QPA_PLATFORM=offscreen "$py" - installers/linux/accomp.svg build/accomp.png <<'EOF'
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

app = QGuiApplication([])
image = QImage(256, 256, QImage.Format.Format_ARGB32)
image.fill(Qt.GlobalColor.transparent)
painter = QPainter(image)
QSvgRenderer(sys.argv[1]).render(painter)
painter.end()
sys.exit(0 if image.save(sys.argv[2]) else 1)
EOF

say "freezing the app (PyInstaller; a few minutes)"
"$py" -m PyInstaller --noconfirm --log-level WARN \
    --distpath build/pyinstaller/dist --workpath build/pyinstaller/work installers/linux/accomp.spec

mv build/pyinstaller/dist/accomp "$stage"
# Qt's ICU data library (32 MB) holds far more than the few ICU services Qt calls.
command -v cc >/dev/null || die "no C compiler ('cc'), which trimming Qt's ICU data needs: sudo apt-get install build-essential"
"$py" installers/linux/icu_data.py "$stage"/_internal/PySide6/Qt/lib/libicudata.so.*
# torch's and Python's libraries ship with their symbol tables (about 100 MB); only
# these are stripped: strip breaks libraries that auditwheel patched (numpy's OpenBLAS).
strip --strip-unneeded "$stage"/_internal/torch/lib/lib{torch_cpu,torch_python,c10}.so \
    "$stage"/_internal/libpython3.*.so.* \
    "$stage"/_internal/python3.*/lib-dynload/*.so
mkdir -p "$stage/licenses"
"$py" installers/bundled_licences.py build/pyinstaller/work/accomp --texts "$stage/licenses" >"$stage/licenses/BUNDLED.txt"
install -m 755 installers/linux/launcher.sh "$stage/accomp"
install -m 755 installers/linux/add-to-menu.sh "$stage/add-to-menu.sh"
install -m 644 installers/linux/accomp.desktop installers/linux/README.txt build/accomp.png THIRD_PARTY_LICENSES "$stage/"
[[ -d $stage/_internal/resources/presets && -d $stage/_internal/resources/teachers ]] || die "the models are missing from the bundle"
[[ -d $stage/_internal/soundfonts ]] || say "warning: no SoundFont bundled (none at ${ACCOMP_BUNDLE_SOUNDFONT:-/usr/share/sounds/sf3/FluidR3Mono_GM.sf3}); the bundle will need one installed"

say "packing dist/$NAME.tar.gz"
tar -C build -cf - "$NAME" | gzip -6 > "dist/$NAME.tar.gz.tmp"
mv "dist/$NAME.tar.gz.tmp" "dist/$NAME.tar.gz"

unpacked=$(du -sb "$stage" | cut -f1)
packed=$(stat -c %s "dist/$NAME.tar.gz")
seconds=$(($(date +%s) - start))
printf '{"bundle": "dist/%s.tar.gz", "packed_bytes": %d, "unpacked_bytes": %d, "build_seconds": %d}\n' \
    "$NAME" "$packed" "$unpacked" "$seconds" > "dist/$NAME.json"
say "done in ${seconds} s: dist/$NAME.tar.gz, $((packed / 1000000)) MB packed, $((unpacked / 1000000)) MB unpacked ($stage)"
say "try it: installers/linux/smoke.sh dist/$NAME.tar.gz"
