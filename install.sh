#!/usr/bin/env bash
# Install accomp into ./.venv, with the system packages it needs (Debian/Ubuntu, apt-get).
#
#   ./install.sh           the app: PortAudio, Qt's runtime libraries, torch, accomp
#   ./install.sh --test    also JACK, Xvfb and the test tools (pytest, pytest-qt, ...)
#
# Run it from the repository root as root or as a user with sudo. It is idempotent: system
# packages already installed are left alone (apt-get update runs only when one is missing),
# and the Python steps are skipped while .venv's stamp matches pyproject.toml.
#
# Environment:
#   PYTHON=python3.11         the interpreter the venv is made from (default: python3, >= 3.11)
#   ACCOMP_TORCH_INDEX=URL    the package index torch is taken from, e.g. a CUDA build's index
#                             (see README.md); by default pip's own configuration decides.
set -euo pipefail

TORCH_VERSION=2.13.0
VENV=.venv

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

with_test=0
for arg in "$@"; do
    case "$arg" in
        --test) with_test=1 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$arg' (use --test or --help)" ;;
    esac
done

[[ -f pyproject.toml && -d accomp ]] || die "run me from the repository root (where pyproject.toml is)"

# ---------------------------------------------------------------- system packages (apt-get)

# The app: PortAudio for sounddevice, ALSA for MIDI, the default SoundFont (FluidR3 GM, MIT;
# FluidR3 Mono, MIT, its compressed mono version: 24 MB instead of 148, what the Linux bundle
# carries, and the app's fallback), Qt 6's runtime libraries (what its xcb platform plugin
# links: libqxcb.so, libQt6XcbQpa.so) and a font for the window's text.
app_packages=(
    libportaudio2 libasound2 fluid-soundfont-gm fluidr3mono-gm-soundfont
    libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
    libxcb-shape0 libxcb-render-util0 libxcb-image0 libxcb-randr0 libxcb-xkb1 libxcb-xfixes0
    libxcb-shm0 libxcb-sync1 libxcb-util1
    libegl1 libgl1 libopengl0 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0 fonts-dejavu-core
)
# The tests: a JACK server with the dummy driver, and a virtual X screen.
test_packages=(jackd2 xvfb xauth)
# tinysoundfont depends on PyAudio, which has no Linux wheel: pip compiles it against these.
pyaudio_build_packages=(build-essential python3-dev portaudio19-dev)
# Only when a Python package has to be compiled (no wheel for this platform).
build_packages=(build-essential pkg-config python3-dev portaudio19-dev libasound2-dev libjack-jackd2-dev)

is_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

apt_updated=0
apt_install() {  # apt_install PKG... : install those of PKG not yet installed
    local missing=() pkg
    for pkg in "$@"; do is_installed "$pkg" || missing+=("$pkg"); done
    ((${#missing[@]})) || return 0
    if ! command -v apt-get >/dev/null; then
        say "warning: no apt-get here; make sure these (or your system's equivalents) are installed: ${missing[*]}"
        return 0
    fi
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    local log
    log=$(mktemp)
    if ((apt_updated == 0)); then
        say "apt-get update"
        "${sudo[@]}" apt-get update -q >"$log" 2>&1 || { cat "$log" >&2; die "apt-get update failed"; }
        apt_updated=1
    fi
    local available=()
    for pkg in "${missing[@]}"; do
        if [[ $(apt-cache policy "$pkg" 2>/dev/null) == *"Candidate: "[!\(]* ]]; then
            available+=("$pkg")
        else
            say "warning: no package '$pkg' in this system's sources; skipped"
        fi
    done
    ((${#available[@]})) || { rm -f "$log"; return 0; }
    if [[ " ${available[*]} " == *" jackd2 "* ]]; then
        # Don't ask (no stdin in CI) whether to enable real-time scheduling for JACK.
        echo "jackd2 jackd/tweak_rt_limits boolean false" | "${sudo[@]}" debconf-set-selections
    fi
    say "apt-get install ${available[*]}"
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${available[@]}" >"$log" 2>&1 \
        || { cat "$log" >&2; die "apt-get install failed"; }
    rm -f "$log"
}

apt_install "${app_packages[@]}"
((with_test)) && apt_install "${test_packages[@]}"

# ---------------------------------------------------------------- the virtual environment

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "no '$PYTHON' found; install Python 3.11 or set PYTHON=..."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$("$PYTHON" --version 2>&1) is too old; accomp needs Python 3.11 or newer (set PYTHON=...)"

if [[ ! -x $VENV/bin/python ]]; then
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        apt_install python3-venv  # Debian's python3 lacks ensurepip without it
    fi
    say "creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import sys' 2>/dev/null || die "$VENV is broken; remove it and run me again"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)

# The stamp keys on everything that decides what pip installs.
mode=app
((with_test)) && mode='test'
key=$({
    cat pyproject.toml
    "$VENV/bin/python" --version
    echo "torch=$TORCH_VERSION index=${ACCOMP_TORCH_INDEX:-default}"
} | sha256sum | cut -d' ' -f1)
stamp_ok() { [[ -f $VENV/.accomp-stamp-$1 && $(<"$VENV/.accomp-stamp-$1") == "$key" ]]; }

if stamp_ok "$mode" || { [[ $mode == app ]] && stamp_ok test; }; then
    say "Python packages are up to date ($VENV)"
    exit 0
fi

# torch first, pinned, so that nothing that depends on it pulls a multi-GB build of its own.
torch_index=${ACCOMP_TORCH_INDEX:-default}
torch_args=("torch==$TORCH_VERSION")
[[ -n ${ACCOMP_TORCH_INDEX:-} ]] && torch_args+=(--index-url "$ACCOMP_TORCH_INDEX")
if [[ -f $VENV/.accomp-torch && $(<"$VENV/.accomp-torch") != "$torch_index" ]]; then
    torch_args+=(--force-reinstall)  # another build was asked for than the one installed
fi
say "installing torch $TORCH_VERSION${ACCOMP_TORCH_INDEX:+ from $ACCOMP_TORCH_INDEX} (this can take a few minutes)"
"${pip[@]}" install -qq "${torch_args[@]}"
echo "$torch_index" >"$VENV/.accomp-torch"

apt_install "${pyaudio_build_packages[@]}"
target=.
((with_test)) && target='.[test]'
say "installing accomp and its dependencies ($target)"
if ! "${pip[@]}" install -qq -e "$target"; then
    say "retrying after installing the build tools (a package had to be compiled)"
    apt_install "${build_packages[@]}"
    "${pip[@]}" install -qq -e "$target"
fi

echo "$key" >"$VENV/.accomp-stamp-$mode"
say "done: run .venv/bin/accomp"
