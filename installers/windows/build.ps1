# Build the Windows bundle: dist\accomp-windows-x86_64.zip (a folder with accomp.exe).
# NOT BUILT OR TESTED: written on Linux (see installers/README.md).
#
#   powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1
#
# Needs Python 3.11 (py launcher). Set ACCOMP_BUNDLE_SOUNDFONT to a .sf2 to bundle one
# (FluidR3_GM.sf2, MIT); without it the app asks for a SoundFont (--soundfont).
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")

if (-not (Test-Path .venv-win\Scripts\python.exe)) { py -3.11 -m venv .venv-win }
$py = ".venv-win\Scripts\python.exe"
& $py -m pip install --disable-pip-version-check -q "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
& $py -m pip install --disable-pip-version-check -q . "pyinstaller==6.22.3"
& $py -m PyInstaller --noconfirm --distpath build\pyinstaller\dist --workpath build\pyinstaller\work installers\windows\accomp.spec
Copy-Item THIRD_PARTY_LICENSES build\pyinstaller\dist\accomp\
New-Item -ItemType Directory -Force dist | Out-Null
Compress-Archive -Force build\pyinstaller\dist\accomp dist\accomp-windows-x86_64.zip
Write-Host "built dist\accomp-windows-x86_64.zip"
