#!/usr/bin/env bash
# deploy/demo.sh: what `make demo` runs once the programs are built.
#
# It starts a local HQ on its embedded SQLite (data in keycab-demo/hq,
# listening on 127.0.0.1, port 8080 or a free one, kept for later runs
# because the enrolled kiosk pins HQ's URL), seeds the demo organisation
# (keycab-hq demo-seed; reused on later runs), enrols the simulated kiosk
# (keycab-kiosk enroll, first run only) and runs it on the simulator: a
# window where there is a display, the terminal console where there is
# none. HQ stops when the kiosk exits. rm -r keycab-demo starts over.
#
# A shell script rather than a Go helper: it only sequences the three
# programs the way an operator would, so it doubles as their how-to.
set -euo pipefail

BIN=${BIN:-bin}
DIR=${KEYCAB_DEMO_DIR:-keycab-demo}
PORT=${KEYCAB_DEMO_PORT:-8080}
HQDIR=$DIR/hq
KDIR=$DIR/kiosk
DSN=sqlite:$HQDIR/hq.db
mkdir -p "$HQDIR"
chmod 700 "$DIR" "$HQDIR"

if [ ! -e "$HQDIR/hq.db" ] && [ -e "$KDIR" ]; then
	old=$DIR/kiosk.old.$(date +%Y%m%d%H%M%S)
	echo "HQ's data is new but $KDIR is enrolled with an older HQ: moving it to $old"
	mv "$KDIR" "$old"
fi
if [ -e "$DIR/kiosk.db" ]; then
	echo "note: $DIR/kiosk.db is the standalone kiosk of an earlier demo (not enrolled); it is left as it was"
fi

# Seed first (it also migrates the database), then serve.
"$BIN/keycab-hq" demo-seed --db "$DSN" --out "$HQDIR/demo.env" 2>>"$DIR/hq.log" >/dev/null
# shellcheck disable=SC1091
. "$HQDIR/demo.env"

if [ -e "$HQDIR/port" ]; then
	PORT=$(cat "$HQDIR/port")
fi
hq_pid=""
stop_hq() {
	if [ -n "$hq_pid" ] && kill -0 "$hq_pid" 2>/dev/null; then
		kill -TERM "$hq_pid" 2>/dev/null || true
		wait "$hq_pid" 2>/dev/null || true
		echo "HQ stopped."
	fi
}
trap stop_hq EXIT

# start_hq ADDR: starts HQ, waits for its "serving" log line, sets ADDR.
start_hq() {
	local log=$HQDIR/serve.log
	: >"$log"
	"$BIN/keycab-hq" serve --db "$DSN" --listen "$1" --base-url "http://$1" 2>"$log" &
	hq_pid=$!
	for _ in $(seq 100); do
		if addr=$(grep -o '"msg":"serving","addr":"[^"]*"' "$log" | head -1 | sed 's/.*"addr":"\([^"]*\)"/\1/') && [ -n "$addr" ]; then
			ADDR=$addr
			return 0
		fi
		if ! kill -0 "$hq_pid" 2>/dev/null; then
			wait "$hq_pid" 2>/dev/null || true
			hq_pid=""
			return 1
		fi
		sleep 0.1
	done
	return 1
}
if ! start_hq "127.0.0.1:$PORT"; then
	if [ -e "$HQDIR/port" ]; then
		echo "HQ could not listen on 127.0.0.1:$PORT, where the demo kiosk expects it:" >&2
		tail -3 "$HQDIR/serve.log" >&2
		echo "free that port, or rm -r $DIR to start over" >&2
		exit 1
	fi
	echo "port $PORT is busy: HQ takes a free one"
	start_hq "127.0.0.1:0" || { tail -3 "$HQDIR/serve.log" >&2; exit 1; }
fi
echo "${ADDR##*:}" >"$HQDIR/port"
URL=http://$ADDR

if [ ! -e "$KDIR/kiosk.key" ]; then
	token=$("$BIN/keycab-hq" enrol-token --db "$DSN" --as "$KEYCAB_DEMO_EMAIL" --cabinet "$KEYCAB_DEMO_CABINET" 2>>"$DIR/hq.log")
	"$BIN/keycab-kiosk" enroll --sim --hq "$URL" --token "$token" --data "$KDIR" --name "demo kiosk" 2>>"$DIR/kiosk.log"
fi

cat <<MSG

keycab demo: HQ runs at $URL (log: $HQDIR/serve.log)
  dashboard: $URL/
  sign in:   $KEYCAB_DEMO_EMAIL  password $KEYCAB_DEMO_PASSWORD
  key fob QR labels (HQ-issued, for the camera): $KEYCAB_DEMO_FOBS
The kiosk syncs its log to HQ and takes its config from HQ (kiosk log: $DIR/kiosk.log).

MSG
set +e
"$BIN/keycab-kiosk" --sim --data "$KDIR" 2>>"$DIR/kiosk.log"
rc=$?
set -e
echo "kiosk stopped; its log: $BIN/keycab audit verify --db $KDIR/kiosk.db"
exit $rc
