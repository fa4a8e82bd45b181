#!/bin/sh
# install.sh: set up a Lumamesh relay on a Linux machine in one command, upgrade it in place, or
# remove it. Downloads lumamesh-relay-linux-<arch> and SHA256SUMS (made by `bun run build.ts
# --release`), checks the sum before touching anything, installs the binary, a `lumamesh` system
# user, /var/lib/lumamesh and a hardened systemd unit, then prints the relay's record. No flag is
# needed: the relay finds other relays and learns its public address from them when it starts.
#
#   curl -sSL https://github.com/lumamesh/lumamesh/releases/latest/download/install.sh | sudo sh
#   sh install.sh --help
#
# Operator guide: docs/install.md. POSIX sh (dash, busybox ash); `shellcheck install.sh` is clean.
# Everything runs from main() at the very end, so a truncated `curl | sh` download runs nothing.
set -eu

DEFAULT_BASE_URL="https://github.com/lumamesh/lumamesh/releases/latest/download"
DEFAULT_PORT=4884
NAME=lumamesh-relay
SVC_USER=lumamesh
DATA_DIR=/var/lib/lumamesh
UNIT_PATH=/etc/systemd/system/lumamesh-relay.service

usage() {
	cat <<EOF
install.sh: install, upgrade or remove a Lumamesh relay (lumamesh-relay) on Linux.

Usage:
  curl -sSL <release URL>/install.sh | sudo sh -s -- [options]
  sudo sh install.sh [options]

Options:
  --public-ip ADDR   the address browsers reach this relay at, advertised in its record
                     (default: none given, the relay learns it from other relays when it
                     starts; kept from the previous install when not given; auto: learn it)
  --port N           UDP port, 1024-65535 (default $DEFAULT_PORT, or the previous install's)
  --systemd          install and start the systemd service (default when systemd runs)
  --no-systemd       do not touch systemd; print how to run the relay instead
  --uninstall        stop the service, remove the binary, the unit and the user;
                     keeps $DATA_DIR (the relay's certificate and keys)
  --purge            with --uninstall: remove $DATA_DIR too
  -h, --help         this text

Environment:
  LUMAMESH_BASE_URL  where lumamesh-relay-linux-<arch> and SHA256SUMS are downloaded from
                     (default $DEFAULT_BASE_URL)
  LUMAMESH_PREFIX    install the binary to PREFIX/bin (default /usr/local)
  LUMAMESH_ROOT      prefix for every file path this script touches (tests, image building);
                     useradd/userdel/id/systemctl still run as found on PATH

Re-running upgrades in place: the binary is replaced, the unit rewritten, the service restarted,
and $DATA_DIR with the relay's keys is kept, so its fingerprint does not change.
EOF
}

say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
# Text from elsewhere (a tool's error, a flag's value) squeezed onto one printable line.
oneline() { printf '%s' "$1" | tr -c '[:print:]' ' ' | cut -c1-200; }

TMP_DIR=""
STAGED=""
cleanup() {
	if [ -n "$STAGED" ]; then rm -f "$STAGED"; fi
	if [ -n "$TMP_DIR" ]; then rm -rf "$TMP_DIR"; fi
}

# uname -m → the release asset's suffix (build.ts RELEASE_TARGETS).
detect_target() {
	[ "$(uname -s)" = Linux ] || die "this installer is for Linux; this system is $(uname -s)"
	case "$(uname -m)" in
	x86_64 | amd64) echo linux-x64 ;;
	aarch64 | arm64) echo linux-arm64 ;;
	*) die "no relay build for this CPU ($(uname -m)); releases exist for x86_64 and aarch64" ;;
	esac
}

download() { # URL FILE
	if have curl; then
		err=$(curl -fsSL --retry 2 -o "$2" "$1" 2>&1) || die "could not download $1 ($(oneline "${err:-curl failed}"))"
	elif have wget; then
		err=$(wget -q -O "$2" "$1" 2>&1) || die "could not download $1 ($(oneline "${err:-wget failed}"))"
	else
		die "neither curl nor wget is installed; install one and re-run"
	fi
}

sha256_of() { # FILE
	if have sha256sum; then
		sha256sum "$1" | cut -d' ' -f1
	elif have shasum; then
		shasum -a 256 "$1" | cut -d' ' -f1
	else
		die "no sha256sum or shasum to check the download with"
	fi
}

# The value of an Environment= line in an existing unit, so a re-run keeps earlier settings.
previous_env() { # VAR
	if [ -f "$ROOT$UNIT_PATH" ]; then
		sed -n "s/^Environment=$1=//p" "$ROOT$UNIT_PATH" | tail -n 1
	fi
}

user_exists() { id -u "$SVC_USER" >/dev/null 2>&1; }

create_user() {
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	if have useradd; then
		useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell "$nologin" "$SVC_USER" ||
			die "could not create the system user $SVC_USER (useradd failed)"
	elif have adduser; then # busybox
		{ addgroup -S "$SVC_USER" && adduser -S -D -H -h "$DATA_DIR" -s "$nologin" -G "$SVC_USER" "$SVC_USER"; } ||
			die "could not create the system user $SVC_USER (adduser failed)"
	else
		die "no useradd or adduser to create the system user $SVC_USER"
	fi
}

remove_user() {
	if have userdel; then
		userdel "$SVC_USER" || die "could not remove the user $SVC_USER (userdel failed; is the relay still running?)"
	elif have deluser; then
		deluser "$SVC_USER" || die "could not remove the user $SVC_USER (deluser failed; is the relay still running?)"
	else
		die "no userdel or deluser to remove the user $SVC_USER"
	fi
}

sysctl() { # systemctl ARGS...; one clear line when it fails
	systemctl "$@" || die "systemctl $* failed; see: journalctl -u $NAME"
}

write_unit() { # FILE PORT PUBLIC_IP
	{
		cat <<EOF
# Written by install.sh (docs/install.md); re-running install.sh rewrites this file.
[Unit]
Description=Lumamesh relay (WebRTC for browsers on one UDP port)
Documentation=https://github.com/lumamesh/lumamesh/blob/main/docs/install.md
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=$SVC_USER
Group=$SVC_USER
ExecStart=$BIN_PATH --data-dir $DATA_DIR
Environment=LUMAMESH_PORT=$2
EOF
		if [ -n "$3" ]; then say "Environment=LUMAMESH_PUBLIC_IP=$3"; fi
		cat <<'EOF'
StateDirectory=lumamesh
StateDirectoryMode=0700
Restart=on-failure
RestartSec=2s
LimitNOFILE=65536

# Hardening: the relay needs one UDP socket and its state directory, nothing else.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
PrivateMounts=yes
ProtectProc=invisible
UMask=0077
SystemCallArchitectures=native
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
AmbientCapabilities=
# MemoryDenyWriteExecute= is deliberately not set: Bun's JavaScriptCore JIT maps its code region
# read+write+execute at start-up (one PROT_READ|PROT_WRITE|PROT_EXEC mmap, seen with strace),
# which MemoryDenyWriteExecute=yes refuses, so the relay would not start. No SystemCallFilter= either
# until it has been tried against a real Bun runtime under systemd.

[Install]
WantedBy=multi-user.target
EOF
	} >"$1"
}

# The lines about the relay's funding address, if this build has a command for it (older builds
# do not). Called before the data directory is handed to the service user: the command may create
# the funding key, and a file root creates later would stay root's.
funding_address() {
	help=$("$ROOT$BIN_PATH" --help </dev/null 2>/dev/null || true)
	if printf '%s\n' "$help" | grep -q "^ *$NAME address"; then
		set -- address
	elif printf '%s\n' "$help" | grep -q "^ *$NAME register" && printf '%s\n' "$help" | grep -q -- "--address-only"; then
		set -- register --address-only
	else
		say "Funding address: this relay version cannot show one yet; it serves unregistered until it can."
		return 0
	fi
	if addr=$("$ROOT$BIN_PATH" "$@" --data-dir "$ROOT$DATA_DIR" </dev/null 2>/dev/null) && [ -n "$addr" ]; then
		say "Funding address (send a little bitcoin here and the relay registers itself on-chain):"
		say "  $addr"
	else
		say "Funding address: unavailable ($NAME $* failed); the relay serves unregistered."
	fi
}

do_uninstall() {
	if [ "$USE_SYSTEMD" = yes ]; then
		if [ -f "$ROOT$UNIT_PATH" ]; then
			sysctl disable --now "$NAME"
			rm -f "$ROOT$UNIT_PATH"
			sysctl daemon-reload
			say "removed the $NAME service ($UNIT_PATH)"
		fi
	elif [ -f "$ROOT$UNIT_PATH" ]; then
		rm -f "$ROOT$UNIT_PATH"
		say "removed $UNIT_PATH"
	fi
	if [ -e "$ROOT$BIN_PATH" ]; then
		rm -f "$ROOT$BIN_PATH"
		say "removed $BIN_PATH"
	fi
	if user_exists; then
		remove_user
		say "removed the user $SVC_USER"
	fi
	if [ "$PURGE" = yes ]; then
		rm -rf "$ROOT$DATA_DIR"
		say "removed $DATA_DIR (the relay's certificate and keys are gone)"
	elif [ -d "$ROOT$DATA_DIR" ]; then
		say "kept $DATA_DIR (the relay's certificate and keys; --uninstall --purge removes it)"
	fi
	say "Lumamesh relay uninstalled."
}

do_install() {
	target=$(detect_target)
	asset="$NAME-$target"
	[ -n "$PORT" ] || PORT=$(previous_env LUMAMESH_PORT)
	[ -n "$PORT" ] || PORT=$DEFAULT_PORT
	[ -n "$PUBLIC_IP" ] || PUBLIC_IP=$(previous_env LUMAMESH_PUBLIC_IP)
	if [ "$PUBLIC_IP" = auto ]; then PUBLIC_IP=""; fi

	# 1. Download and verify. Nothing outside the temporary directory changes before this passes.
	TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lumamesh-install.XXXXXX") || die "could not create a temporary directory"
	say "Downloading $asset from $BASE_URL"
	download "$BASE_URL/SHA256SUMS" "$TMP_DIR/SHA256SUMS"
	download "$BASE_URL/$asset" "$TMP_DIR/$asset"
	want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$TMP_DIR/SHA256SUMS")
	[ -n "$want" ] || die "SHA256SUMS from $BASE_URL has no line for $asset; nothing was installed"
	got=$(sha256_of "$TMP_DIR/$asset")
	[ "$got" = "$want" ] || die "checksum mismatch for $asset (SHA256SUMS says $want, the download is $got); nothing was installed"
	say "Checksum OK ($got)"

	# 2. Stage the binary beside its final path (same filesystem, so the move is atomic, and no
	#    noexec /tmp in the way) and make sure it runs here before replacing anything.
	bin_dir=$(dirname "$ROOT$BIN_PATH")
	mkdir -p "$bin_dir" || die "could not create $bin_dir"
	STAGED="$ROOT$BIN_PATH.new"
	{ cp "$TMP_DIR/$asset" "$STAGED" && chmod 0755 "$STAGED"; } || die "could not write $STAGED"
	new_version=$("$STAGED" --version </dev/null 2>&1) || die "the downloaded relay does not run on this machine: $(oneline "$new_version"); nothing was installed"
	old_version=""
	if [ -e "$ROOT$BIN_PATH" ]; then old_version=$("$ROOT$BIN_PATH" --version </dev/null 2>/dev/null || echo "an unknown version"); fi

	# 3. User, state directory, binary.
	if ! user_exists; then
		create_user
		say "Created the system user $SVC_USER"
	fi
	{ uid=$(id -u "$SVC_USER") && gid=$(id -g "$SVC_USER"); } || die "could not look up the user $SVC_USER"
	{ mkdir -p "$ROOT$DATA_DIR" && chmod 0700 "$ROOT$DATA_DIR"; } || die "could not create $DATA_DIR"
	mv -f "$STAGED" "$ROOT$BIN_PATH" || die "could not install $BIN_PATH"
	STAGED=""
	if [ -n "$old_version" ]; then say "Upgraded $BIN_PATH: $old_version -> $new_version"; else say "Installed $BIN_PATH ($new_version)"; fi

	# The certificate and keys are made now, once, before the service can start: two first runs
	# at the same moment would each make a different certificate. Existing ones are kept.
	set -- record --data-dir "$ROOT$DATA_DIR" --port "$PORT"
	if [ -n "$PUBLIC_IP" ]; then set -- "$@" --public-ip "$PUBLIC_IP"; fi
	record=$("$ROOT$BIN_PATH" "$@" </dev/null) || die "$NAME could not create its keys in $DATA_DIR or print its record"
	funding=$(funding_address)
	chown -R "$uid:$gid" "$ROOT$DATA_DIR" || die "could not give $DATA_DIR to the user $SVC_USER"

	# 4. Service.
	if [ "$USE_SYSTEMD" = yes ]; then
		mkdir -p "$(dirname "$ROOT$UNIT_PATH")" || die "could not create $(dirname "$UNIT_PATH")"
		write_unit "$TMP_DIR/unit" "$PORT" "$PUBLIC_IP" || die "could not write the unit"
		{ mv -f "$TMP_DIR/unit" "$ROOT$UNIT_PATH" && chmod 0644 "$ROOT$UNIT_PATH"; } || die "could not write $UNIT_PATH"
		sysctl daemon-reload
		sysctl enable --now "$NAME"
		if [ -n "$old_version" ]; then sysctl restart "$NAME"; fi
		say "Service $NAME is enabled and running (logs: journalctl -u $NAME -f)"
	else
		run="$BIN_PATH --data-dir $DATA_DIR --port $PORT"
		if [ -n "$PUBLIC_IP" ]; then run="$run --public-ip $PUBLIC_IP"; fi
		say "systemd is not running here, so no service was installed. Run the relay as $SVC_USER under your init system:"
		say "  $run"
		say "  (e.g. su -s /bin/sh -c '$run' $SVC_USER)"
		if [ -n "$old_version" ]; then say "A relay already running keeps the old version until you restart it."; fi
	fi

	# 5. What the operator needs next.
	say ""
	say "Relay record:"
	say "$record"
	if [ -z "$PUBLIC_IP" ]; then
		say "(Its address is a placeholder until the relay runs: it learns its public address from other"
		say " relays when it starts, and another relay confirms it can reach it there. To see what it learned:"
		say "   lumamesh-relay status --data-dir $DATA_DIR)"
	fi
	say ""
	say "Open UDP port $PORT to the internet (e.g. ufw allow $PORT/udp); the relay uses nothing else."
	say "$funding"
}

main() {
	ROOT="${LUMAMESH_ROOT:-}"
	ROOT="${ROOT%/}"
	BASE_URL="${LUMAMESH_BASE_URL:-$DEFAULT_BASE_URL}"
	BASE_URL="${BASE_URL%/}"
	PREFIX="${LUMAMESH_PREFIX:-/usr/local}"
	BIN_PATH="${PREFIX%/}/bin/$NAME"
	PUBLIC_IP=""
	PORT=""
	USE_SYSTEMD=auto
	UNINSTALL=no
	PURGE=no
	while [ $# -gt 0 ]; do
		case "$1" in
		-h | --help)
			usage
			exit 0
			;;
		--public-ip | --port)
			{ [ $# -ge 2 ] && [ -n "$2" ]; } || die "$1 needs a value"
			if [ "$1" = --port ]; then PORT=$2; else PUBLIC_IP=$2; fi
			shift 2
			continue
			;;
		--public-ip=*) PUBLIC_IP=${1#*=} ;;
		--port=*) PORT=${1#*=} ;;
		--systemd) USE_SYSTEMD=yes ;;
		--no-systemd) USE_SYSTEMD=no ;;
		--uninstall) UNINSTALL=yes ;;
		--purge) PURGE=yes ;;
		*) die "unknown option $(oneline "$1") (see --help)" ;;
		esac
		shift
	done
	if [ -n "$PORT" ]; then
		case "$PORT" in *[!0-9]* | "") die "--port must be a number, got '$(oneline "$PORT")'" ;; esac
		{ [ "${#PORT}" -le 5 ] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65535 ]; } ||
			die "--port must be 1024-65535 (the hardened unit grants no capability for lower ports), got $PORT"
	fi
	case "$PUBLIC_IP" in auto) ;; *[!0-9A-Fa-f.:]*) die "--public-ip must be an IPv4 or IPv6 address (or auto), got '$(oneline "$PUBLIC_IP")'" ;; esac
	[ "$PURGE" = no ] || [ "$UNINSTALL" = yes ] || die "--purge only goes with --uninstall"
	if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then die "run as root (e.g. curl -sSL <url>/install.sh | sudo sh)"; fi
	if [ "$USE_SYSTEMD" = auto ]; then
		if [ -d "$ROOT/run/systemd/system" ]; then USE_SYSTEMD=yes; else USE_SYSTEMD=no; fi
	fi
	if [ "$USE_SYSTEMD" = yes ] && ! have systemctl; then die "--systemd: systemctl is not installed"; fi
	# sudo and `su` do not always put the sbin directories on PATH; user tools live there.
	PATH="$PATH:/usr/sbin:/sbin"
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
	if [ "$UNINSTALL" = yes ]; then do_uninstall; else do_install; fi
}

main "$@"
