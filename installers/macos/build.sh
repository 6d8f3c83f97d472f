#!/usr/bin/env bash
# Build the macOS bundle: dist/accomp-macos.dmg holding accomp.app.
# NOT BUILT OR TESTED: written on Linux (see installers/README.md). Unsigned: Gatekeeper
# asks the user to allow it (right-click > Open) until it is signed and notarized.
#
#   installers/macos/build.sh        (Python 3.11 from python.org or Homebrew)
#
# ACCOMP_BUNDLE_SOUNDFONT=FILE bundles a SoundFont (FluidR3_GM.sf2, MIT); without it the
# app looks in Homebrew's /opt/homebrew/share/soundfonts or asks for one (--soundfont).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x .venv-mac/bin/python ]] || python3.11 -m venv .venv-mac
py=.venv-mac/bin/python
"$py" -m pip install -q "torch==2.13.0"  # PyPI's macOS wheels are the CPU (and MPS) build
"$py" -m pip install -q . "pyinstaller==6.22.3"
"$py" -m PyInstaller --noconfirm --distpath build/pyinstaller/dist --workpath build/pyinstaller/work installers/macos/accomp.spec
cp THIRD_PARTY_LICENSES build/pyinstaller/dist/accomp.app/Contents/Resources/
mkdir -p dist
hdiutil create -volname accomp -srcfolder build/pyinstaller/dist/accomp.app -ov -format UDZO dist/accomp-macos.dmg
echo "built dist/accomp-macos.dmg"
