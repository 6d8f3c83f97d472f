#!/bin/sh
# accomp: start the app from wherever this folder was unpacked (a symbolic link to this
# file works too). Arguments are accomp's own: 'accomp --help' lists them.
here=$(dirname "$(readlink -f "$0")")
exec "$here/accomp-bin" "$@"
