#!/bin/sh
# Put accomp in your desktop's application menu (for you only; no root needed), starting
# it from this folder. Run it again after moving the folder; remove-from-menu: delete
# ~/.local/share/applications/accomp.desktop.
set -eu
here=$(dirname "$(readlink -f "$0")")
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications" "$data/icons/hicolor/256x256/apps"
cp "$here/accomp.png" "$data/icons/hicolor/256x256/apps/accomp.png"
entry="$data/applications/accomp.desktop"
sed -e "s|^Exec=.*|Exec=\"$here/accomp\"|" "$here/accomp.desktop" > "$entry.tmp"
mv "$entry.tmp" "$entry"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" 2>/dev/null || true
echo "accomp is in your application menu (Sound & Video / Music): $entry"
