#!/usr/bin/env bash
# Smoke test of the Linux bundle, as a new user would meet it: unpacked somewhere else, with
# no repository, .venv or Python settings around, a fresh home folder, no display.
#
#   installers/linux/smoke.sh [BUNDLE] [--user NAME] [--no-distill]
#
# BUNDLE is the tarball (default: dist/accomp-linux-x86_64.tar.gz) or an unpacked bundle
# folder; either is copied into a new folder under /tmp first. --user NAME (as root) runs
# every step as that user, made with useradd if missing. Steps: --version; devices; render a
# 16-note melody with each bundled preset to MIDI and WAV; render that WAV as a recording
# (the listening path); distil a style for one minute and render with it; the window
# offscreen (and on X11 when Xvfb is installed) with --quit-after; the window playing.
# --no-distill leaves out the distillation, which with the teacher's trajectories before and
# the preset's figures after its minute of training takes 5-11 minutes on 2 busy cores.
# Any step that fails, or any output naming a missing module, Qt plugin, library or file,
# fails the test.
#
# Playing needs an audio device. When jackd (jackd2) is installed the test starts its own
# JACK server with the dummy driver under a name of its own (JACK_DEFAULT_SERVER), so it runs
# on machines without a sound card; without jackd and without a device, the playing step only
# checks that the window says why it cannot play.
set -euo pipefail

say() { printf 'smoke: %s\n' "$*"; }
die() { printf 'smoke: FAILED: %s\n' "$*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/../.." && pwd)
bundle=$repo/dist/accomp-linux-x86_64.tar.gz
user=
distill=1
while (($#)); do
    case $1 in
        --user) user=${2:?--user needs a name}; shift 2 ;;
        --no-distill) distill=0; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) bundle=$(readlink -f "$1"); shift ;;
    esac
done
[[ -e $bundle ]] || die "no bundle at $bundle (build it: installers/linux/build.sh)"

work=$(mktemp -d /tmp/accomp-smoke.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if ((passed)); then
        rm -rf "$work"
    else
        rm -rf "$work/elsewhere"
        echo "smoke: the logs are in $work" >&2
    fi
}
passed=0
trap cleanup EXIT
chmod 755 "$work"
mkdir -p "$work/elsewhere" "$work/home" "$work/run"
if [[ -d $bundle ]]; then
    cp -a "$bundle" "$work/elsewhere/accomp"
else
    tar -C "$work/elsewhere" -xzf "$bundle"
    mv "$work/elsewhere"/*/ "$work/elsewhere/accomp"
fi
app=$work/elsewhere/accomp
[[ -x $app/accomp ]] || die "the bundle has no launcher 'accomp'"
chmod 700 "$work/run"

as_user=()
if [[ -n $user ]]; then
    ((EUID == 0)) || die "--user needs root"
    id "$user" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$user"
    chown -R "$user" "$work/home" "$work/run"
    as_user=(runuser -u "$user" --)
fi
say "bundle copied to $app; running as ${user:-$(id -un)} with HOME=$work/home"

# A clean environment: nothing from this shell (no PYTHONPATH, VIRTUAL_ENV, DISPLAY...).
env_base=(HOME="$work/home" XDG_RUNTIME_DIR="$work/run" PATH=/usr/bin:/bin LANG=C.UTF-8)
jack=()
run() {  # run LOGNAME TIMEOUT [VAR=VALUE...] -- COMMAND...: in $work/home, output in $work/LOGNAME.log
    local step=$1 log=$work/$1.log limit=$2 extra=()
    shift 2
    while [[ $1 != -- ]]; do extra+=("$1"); shift; done
    shift
    local code=0
    (cd "$work/home" && timeout "$limit" "${as_user[@]}" env -i "${env_base[@]}" "${jack[@]}" "${extra[@]}" "$@") \
        >"$log" 2>&1 || code=$?
    if grep -Ei 'No module named|ModuleNotFoundError|ImportError|qt\.qpa\.plugin|Qt platform plugin|cannot open shared object|FileNotFoundError|Errno 2\]|Traceback' "$log" >&2; then
        die "$step: the output above names something missing ($log)"
    fi
    ((code == 0)) || { tail -20 "$log" >&2; die "$step: exit code $code"; }
}

# --- an audio device: our own JACK server with the dummy driver
if command -v jackd >/dev/null; then
    server=accomp-smoke-$$
    (cd "$work/home" && exec "${as_user[@]}" env -i "${env_base[@]}" jackd -n "$server" --no-realtime -d dummy -r 48000 -p 256) \
        >"$work/jackd.log" 2>&1 &
    pids+=($!)
    jack=(JACK_DEFAULT_SERVER="$server" JACK_NO_START_SERVER=1)
    for _ in $(seq 50); do
        "${as_user[@]}" env -i "${env_base[@]}" "${jack[@]}" jack_lsp >/dev/null 2>&1 && break
        sleep 0.2
    done
    "${as_user[@]}" env -i "${env_base[@]}" "${jack[@]}" jack_lsp >/dev/null 2>&1 || die "jackd did not start ($work/jackd.log)"
    say "JACK dummy server '$server' running"
else
    say "no jackd here: the playing step runs against whatever audio device there is"
fi

a=$app/accomp
run version 60 -- "$a" --version
say "ok: $(cat "$work/version.log")"
run version-m 60 -- "$app/accomp-bin" -m accomp --version  # how the window starts 'distill'

run devices 60 -- "$a" devices
if ((${#jack[@]})); then
    grep -q JACK "$work/devices.log" || { cat "$work/devices.log" >&2; die "devices: PortAudio does not see the JACK server"; }
fi
say "ok: devices ($(grep -c . "$work/devices.log") lines)"

# A 16-note melody (C major, 100 bpm), format 0.
base64 -d >"$work/home/melody.mid" <<'EOF'
TVRoZAAAAAYAAQABAeBNVHJrAAAAmwD/UQMJJ8AAkDxQg2CAPAAAkD5Qg2CAPgAAkEBQg2CAQAAAkEFQg2CAQQAAkENQg2CAQwAAkEFQg2CAQQAAkEBQg2CAQAAAkD5Qg2CAPgAAkDxQg2CAPAAAkEBQg2CAQAAAkENQg2CAQwAAkEhQg2CASAAAkENQg2CAQwAAkEBQg2CAQAAAkDxQg2CAPAAAkDxQg2CAPAAA/y8A
EOF
chmod 644 "$work/home/melody.mid"
check_render() {  # check_render NAME: out-NAME.mid is MIDI and out-NAME.wav is audio of some length
    [[ $(head -c4 "$work/home/out-$1.mid") == MThd ]] || die "render $1: out-$1.mid is not a MIDI file"
    [[ $(head -c4 "$work/home/out-$1.wav") == RIFF ]] || die "render $1: out-$1.wav is not a WAV file"
    (($(stat -c %s "$work/home/out-$1.wav") > 500000)) || die "render $1: out-$1.wav is too short"
    say "ok: render --preset $1 -> MIDI $(stat -c %s "$work/home/out-$1.mid") B, WAV $(stat -c %s "$work/home/out-$1.wav") B"
}
for preset in pop chorale; do
    run "render-$preset" 300 -- "$a" render melody.mid --preset "$preset" -o "out-$preset.mid" --wav "out-$preset.wav"
    check_render "$preset"
done

# A recording as the lead: the listening path (its input filters, the filter banks, soundfile, soxr).
run render-recording 300 -- "$a" render out-pop.wav --preset pop -o heard.mid
[[ $(head -c4 "$work/home/heard.mid") == MThd ]] || die "render of a recording: heard.mid is not a MIDI file"
say "ok: render of a recording (out-pop.wav) -> heard.mid"

if ((distill)); then
    start=$SECONDS
    run distill 1500 -- "$a" distill --style pop --minutes 1 --out smoke-style.safetensors --progress jsonl
    [[ -s $work/home/smoke-style.safetensors ]] || die "distill wrote no preset"
    grep -q '"event": "done"' "$work/distill.log" || die "distill did not say it was done"
    say "ok: distill --minutes 1 in $((SECONDS - start)) s in all ($(grep -c '"progress"' "$work/distill.log") progress events)"
    run render-distilled 300 -- "$a" render melody.mid --preset smoke-style.safetensors -o out-distilled.mid --wav out-distilled.wav
    check_render distilled
fi

run window-offscreen 120 QT_QPA_PLATFORM=offscreen -- "$a" launch --quit-after 3
grep -q '"notices"' "$work/window-offscreen.log" || die "window (offscreen): no summary"
say "ok: the window opened offscreen and closed"

if command -v Xvfb >/dev/null; then
    xfifo=$work/xvfb.display
    mkfifo "$xfifo"
    Xvfb -displayfd 9 -screen 0 1280x800x24 -nolisten tcp 9>"$xfifo" >"$work/xvfb.log" 2>&1 &
    pids+=($!)
    read -r -t 20 display <"$xfifo" || die "Xvfb did not start ($work/xvfb.log)"
    run window-xcb 120 QT_QPA_PLATFORM=xcb DISPLAY=":$display" -- "$a" launch --quit-after 3
    grep -q '"notices"' "$work/window-xcb.log" || die "window (xcb): no summary"
    say "ok: the window opened on X11 (xcb, Xvfb :$display) and closed"
else
    say "no Xvfb here: the X11 (xcb) window step is skipped"
fi

run window-play 120 QT_QPA_PLATFORM=offscreen -- "$a" launch --play --quit-after 3
if grep -q '^accomp: playing' "$work/window-play.log"; then
    say "ok: $(grep '^accomp: playing' "$work/window-play.log")"
elif ((${#jack[@]})); then
    cat "$work/window-play.log" >&2
    die "window-play: not playing although a JACK server runs"
else
    say "warning: no audio device, so the window did not play: $(grep '^accomp: not playing' "$work/window-play.log")"
fi

passed=1
say "PASSED (bundle moved to $app, user ${user:-$(id -un)})"
