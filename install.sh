#!/bin/sh
# install.sh: put a lumamesh-relay executable on this machine.
# Minimal for now: installs a relay binary you built (npm run build → dist/lumamesh-relay).
# The one-command download, checksum, systemd unit and upgrade path come with the operations work.
set -eu
BIN="${1:-dist/lumamesh-relay}"
DEST="${LUMAMESH_PREFIX:-/usr/local}/bin/lumamesh-relay"
if [ ! -x "$BIN" ]; then
  echo "install.sh: no relay executable at $BIN (run: npm install && npm run build)" >&2
  exit 1
fi
install -m 0755 "$BIN" "$DEST"
echo "installed $DEST"
"$DEST" --version
echo "run it with: lumamesh-relay --public-ip <this host's public address>   (open UDP port 4884)"
