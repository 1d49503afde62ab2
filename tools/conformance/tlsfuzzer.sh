#!/usr/bin/env bash
# tlsfuzzer against `outpost tls-demo` (or, for comparison, Node's own TLS stack), in the
# two certificate profiles of docs/tls-conformance.md: RSA-2048 (the broad script
# list: most TLS 1.3 scripts offer only RSA schemes) and ECDSA P-256 (the ECDSA subset).
#
# Usage: tools/conformance/tlsfuzzer.sh [--server outpost|node] [--profile rsa|ecdsa|all]
#                                       [--exhaustive] [--no-echo] [--strict-groups]
#                                       [--only "SCRIPT ..."]
#
# It generates a throwaway test PKI (packages/tls/test/interop/test-pki.ts) in a temp dir,
# starts the server on 127.0.0.1 (plus an echo-mode instance for test-tls13-lengths when
# the server has one), runs ../shared/tools/tls-conformance/run-tlsfuzzer.sh with knobs
# that describe the server truthfully, keeps every script's log under
# test-artifacts/tlsfuzzer/<server>-<time>/<profile>/ (gitignored) and prints per-script
# PASS/FAIL lines, the failing case names, and the totals per profile.
# Exit status: 0 when no case failed in any profile, 1 otherwise, 2 on setup errors.
#
# tlsfuzzer, tlslite-ng and kyber-py are NOT vendored (never commit them): check them out
# outside the repository (tools/conformance/setup-tlsfuzzer.sh) and point at them with
#   TLSFUZZER_DIR, TLSLITE_DIR, KYBER_DIR   (default: $SCRATCH/{tlsfuzzer,tlslite-ng,kyber-py},
#                                            SCRATCH default: <repo>/../scratch)
# Other environment:
#   PYTHON        python3 with the `ecdsa` module (default /usr/bin/python3: Debian's)
#   NODE          Node >= 24 (default: node on PATH; npm scripts put the pinned one first)
#   OUTPOST_TICKETS  NewSessionTickets per full handshake (tls-demo --tickets, default 2)
#   Any TLSFUZZER_* variable set by the caller overrides the default chosen here (see the
#   header of run-tlsfuzzer.sh for the list).
set -u
cd "$(dirname "$0")/../.." || exit 2
REPO=$PWD

SERVER=outpost PROFILES="rsa ecdsa" EXHAUSTIVE=0 ECHO=1 ONLY_SCRIPTS= RELAXED=1
while [ $# -gt 0 ]; do
  case $1 in
    --server) SERVER=$2; shift 2;;
    --profile) case $2 in all) PROFILES="rsa ecdsa";; rsa|ecdsa) PROFILES=$2;;
                 *) echo "--profile must be rsa, ecdsa or all" >&2; exit 2;; esac; shift 2;;
    --exhaustive) EXHAUSTIVE=1; shift;;
    --no-echo) ECHO=0; shift;;
    --strict-groups) RELAXED=0; shift;;
    --only) ONLY_SCRIPTS=$2; shift 2;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2;;
  esac
done
case $SERVER in outpost|node) ;; *) echo "--server must be outpost or node" >&2; exit 2;; esac

SCRATCH=${SCRATCH:-$REPO/../scratch}
export TLSFUZZER_DIR=${TLSFUZZER_DIR:-$SCRATCH/tlsfuzzer}
export TLSLITE_DIR=${TLSLITE_DIR:-$SCRATCH/tlslite-ng}
KYBER_DIR=${KYBER_DIR:-$SCRATCH/kyber-py}
export EXTRA_PYTHONPATH=${EXTRA_PYTHONPATH:-$KYBER_DIR/src}
if [ -z "${PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
export PYTHON
NODE=${NODE:-node}
RUNNER=$REPO/../shared/tools/tls-conformance/run-tlsfuzzer.sh
# `outpost tls-demo` through an entry that loads only @outpost/tls (same command object as
# packages/cli/src/main.ts), so a half-edited unrelated package in a shared working tree
# cannot stop the run; OUTPOST_CLI=1 goes through the full CLI instead.
DEMO=packages/tls/test/interop/tls-demo-main.ts
[ "${OUTPOST_CLI:-0}" = 1 ] && DEMO=packages/cli/src/main.ts
BASELINE=$REPO/../shared/tools/tls-conformance/node-baseline-server.mjs

for d in "$TLSFUZZER_DIR/scripts" "$TLSLITE_DIR/tlslite"; do
  [ -d "$d" ] || { echo "missing $d: run tools/conformance/setup-tlsfuzzer.sh or set TLSFUZZER_DIR/TLSLITE_DIR" >&2; exit 2; }
done
[ -x "$RUNNER" ] || [ -r "$RUNNER" ] || { echo "runner not found: $RUNNER" >&2; exit 2; }
node_major=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null)
[ "${node_major:-0}" -ge 24 ] || { echo "NODE must be Node >= 24 (got '${node_major:-none}'); export PATH=\$PWD/node_modules/.bin:\$PATH" >&2; exit 2; }

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$REPO/test-artifacts/tlsfuzzer/$SERVER-$STAMP
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
# SIGTERM, then SIGKILL after 5 s (tls-demo keeps running while its echo listener or
# keep-alive connections are open).
stop_servers() {
  local p i
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  PIDS=()
}
cleanup() {
  stop_servers
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ PKI
if ! "$NODE" packages/tls/test/interop/test-pki.ts "$WORK/pki" >"$WORK/pki.env"; then
  echo "cannot generate the test PKI" >&2; exit 2
fi
# shellcheck disable=SC1091
. "$WORK/pki.env"

free_port() {
  "$NODE" -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_port() { # $1 port, $2 pid, $3 log
  for _ in $(seq 1 150); do
    kill -0 "$2" 2>/dev/null || { echo "server exited:" >&2; tail -n 20 "$3" >&2; return 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server not listening on $1 after 15 s" >&2; tail -n 20 "$3" >&2; return 1
}

# start_server PROFILE -> sets STARTED_PORT (https) and STARTED_ECHO (echo port or empty);
# appends to PIDS. tls-demo runs its echo server in the same process (--echo-port); the
# Node baseline needs a second process in MODE=echo.
start_server() {
  local chain key port log echo_port=""
  eval "chain=\$${1}_CHAIN key=\$${1}_KEY"
  port=$(free_port)
  mkdir -p "$OUT/$1"
  log=$OUT/$1/server.log
  if [ "$SERVER" = node ]; then
    CERT=$chain KEY=$key HOST=127.0.0.1 PORT=$port MODE=http QUIET=1 \
      "$NODE" "$BASELINE" >"$log" 2>&1 &
    PIDS+=($!)
    wait_port "$port" "$!" "$log" || return 1
    if [ "$ECHO" = 1 ]; then
      echo_port=$(free_port)
      CERT=$chain KEY=$key HOST=127.0.0.1 PORT=$echo_port MODE=echo QUIET=1 \
        "$NODE" "$BASELINE" >"$OUT/$1/server-echo.log" 2>&1 &
      PIDS+=($!)
      wait_port "$echo_port" "$!" "$OUT/$1/server-echo.log" || return 1
    fi
  else
    local extra=()
    if [ "$ECHO" = 1 ] && has_echo; then
      echo_port=$(free_port)
      extra=(--echo-port "$echo_port")
    elif [ "$ECHO" = 1 ]; then
      echo "(tls-demo has no --echo-port: test-tls13-lengths not run)"
    fi
    "$NODE" "$DEMO" tls-demo --listen "127.0.0.1:$port" \
      --cert "$chain" --key "$key" --tickets "${OUTPOST_TICKETS:-2}" "${extra[@]}" >"$log" 2>&1 &
    PIDS+=($!)
    wait_port "$port" "$!" "$log" || return 1
    [ -n "$echo_port" ] && { wait_port "$echo_port" "$!" "$log" || return 1; }
  fi
  STARTED_PORT=$port STARTED_ECHO=$echo_port
}

has_echo() {
  "$NODE" "$DEMO" tls-demo --help 2>/dev/null | grep -q -- '--echo-port'
}

# ------------------------------------------------ what the server is (knobs)
# Defaults describe each server truthfully; TLSFUZZER_* from the caller win.
set_default() { [ -n "${!1+x}" ] || export "$1=$2"; }
if [ "$SERVER" = node ]; then
  # tls-testing.md "Baseline results": Node 24 (OpenSSL 3.5.8) with its default groups.
  set_default TLSFUZZER_GROUPS x25519mlkem768,x25519,secp256r1,x448,secp521r1,secp384r1,ffdhe2048,ffdhe3072
  set_default TLSFUZZER_KEMS x25519mlkem768
  set_default TLSFUZZER_EE_GROUPS 1
  set_default TLSFUZZER_RESUMPTION 1
  set_default TLSFUZZER_RELAXED_GROUPS 1
  set_default TLSFUZZER_TICKETS 2
else
  # Outpost tls-demo: X25519MLKEM768 preferred, then X25519, P-256, P-384; HRR carries a
  # cookie; ticket resumption with psk_dhe_ke only; obsolete groups get the strict
  # (illegal_parameter) treatment; --tickets NSTs per full handshake.
  set_default TLSFUZZER_GROUPS x25519mlkem768,x25519,secp256r1,secp384r1
  set_default TLSFUZZER_KEMS x25519mlkem768
  set_default TLSFUZZER_COOKIE 1
  set_default TLSFUZZER_RESUMPTION 1
  set_default TLSFUZZER_EE_GROUPS 0
  # Like OpenSSL, tls-demo ignores obsolete groups listed next to valid ones and answers
  # handshake_failure when only obsolete ones are offered: that is what --relaxed
  # describes. --strict-groups runs tlsfuzzer's stricter default (illegal_parameter).
  set_default TLSFUZZER_RELAXED_GROUPS "$RELAXED"
  set_default TLSFUZZER_TICKETS "${OUTPOST_TICKETS:-2}"
  # Per-case expectations (groups we do not implement must get handshake_failure),
  # through the python shim: see tools/conformance/expectations/outpost.txt.
  set_default TLSFUZZER_EXPECTATIONS "$REPO/tools/conformance/expectations/outpost.txt"
  export REAL_PYTHON=$PYTHON
  PYTHON=$REPO/tools/conformance/python-shim.sh
fi
[ "$EXHAUSTIVE" = 1 ] && export TLSFUZZER_EXHAUSTIVE=1
[ -n "$ONLY_SCRIPTS" ] && export TLSFUZZER_ONLY=$ONLY_SCRIPTS
# OpenSSL 3.5 (Node) parses extension 27 (compress_certificate), which tlsfuzzer treats as
# unassigned; tls-testing.md passes --exc 27 for it.
if [ "$SERVER" = node ] && [ -z "${TLSFUZZER_ARGS_test_tls13_large_number_of_extensions+x}" ]; then
  export TLSFUZZER_ARGS_test_tls13_large_number_of_extensions='--exc 27'
fi

{
  echo "server=$SERVER profiles=$PROFILES exhaustive=$EXHAUSTIVE started=$STAMP"
  echo "node=$("$NODE" --version) python=$("${REAL_PYTHON:-$PYTHON}" --version 2>&1)"
  for r in "$TLSFUZZER_DIR" "$TLSLITE_DIR" "$KYBER_DIR"; do
    echo "$(basename "$r"): $(cat "$r/.snapshot-commit" 2>/dev/null || git -C "$r" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  done
  env | grep '^TLSFUZZER_' | sort
  if [ -n "${TLSFUZZER_EXPECTATIONS:-}" ]; then
    echo "--- expectations ($TLSFUZZER_EXPECTATIONS)"; grep -v '^\s*#' "$TLSFUZZER_EXPECTATIONS" | grep .
  fi
} >"$OUT/settings.txt"

# ------------------------------------------------------------------ run
overall=0
TOTALS=()
for profile in $PROFILES; do
  echo "=== $SERVER, $profile profile ==="
  start_server "$profile" || exit 2
  port=$STARTED_PORT
  if [ -n "$STARTED_ECHO" ]; then export TLSFUZZER_ECHO_PORT=$STARTED_ECHO
  else unset TLSFUZZER_ECHO_PORT; fi
  start=$(date +%s)
  TLSFUZZER_KEY_TYPE=$profile TLSFUZZER_LOG_DIR=$OUT/$profile \
    bash "$RUNNER" 127.0.0.1 "$port" | tee "$OUT/$profile/summary.txt"
  rc=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] && overall=1
  last=$(tail -n 1 "$OUT/$profile/summary.txt")
  TOTALS+=("$profile: $last ($(( $(date +%s) - start )) s)")
  # stop this profile's servers before the next one
  stop_servers
done

echo "=== totals ($SERVER) ==="
for t in "${TOTALS[@]}"; do echo "$t"; done | tee "$OUT/totals.txt"
echo "logs: $OUT"
exit $overall
