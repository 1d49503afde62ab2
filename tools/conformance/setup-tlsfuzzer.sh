#!/usr/bin/env bash
# Puts tlsfuzzer, tlslite-ng and kyber-py (pure-Python ML-KEM for tlslite-ng) into a scratch
# directory OUTSIDE the repository, at the commits docs/tls-conformance.md was
# measured with. Never commit them: they are third-party code we only run.
#
# Usage: tools/conformance/setup-tlsfuzzer.sh [DEST]     (default DEST: <repo>/../scratch)
#
# Source, per project, in this order:
#   1. an existing git directory named by TLSFUZZER_GIT / TLSLITE_GIT / KYBER_GIT (a bare
#      mirror or a clone's .git), checked out at its HEAD;
#   2. otherwise `git clone` from GitHub, then the pinned commit (needs network).
# Files are extracted blob by blob, so a snapshot that lacks some large blobs (tlsfuzzer's
# tests/*.csv) still works, and symlinks (tlsfuzzer's scripts/*.py -> _stub.py) stay links.
# Debian's python3-ecdsa is needed too: apt-get install -y python3-ecdsa
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${1:-$PWD/../scratch}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
case "$DEST/" in "$PWD"/*) echo "DEST must be outside the repository" >&2; exit 2;; esac

# name  github-repo  pinned-commit  env-var-with-a-git-dir
projects=(
  "tlsfuzzer tlsfuzzer/tlsfuzzer 14555fe2 TLSFUZZER_GIT"
  "tlslite-ng tlsfuzzer/tlslite-ng 0d031690 TLSLITE_GIT"
  "kyber-py GiacomoPope/kyber-py 89792366 KYBER_GIT"
)

extract() { # git-dir commit dest: every blob except *.csv; symlinks as symlinks
  local g=$1 rev=$2 out=$3 line meta path mode obj
  rm -rf "$out"; mkdir -p "$out"
  git --git-dir="$g" ls-tree -r -z "$rev" | while IFS= read -r -d '' line; do
    meta=${line%%$'\t'*}; path=${line#*$'\t'}
    read -r mode _ obj <<<"$meta"
    case $path in *.csv) continue;; esac
    mkdir -p "$out/$(dirname "$path")"
    if [ "$mode" = 120000 ]; then
      ln -s "$(git --git-dir="$g" cat-file blob "$obj")" "$out/$path"
    elif [ "$mode" = 160000 ]; then
      continue # submodule
    else
      git --git-dir="$g" cat-file blob "$obj" >"$out/$path" || echo "skipped (blob missing): $path" >&2
      if [ "$mode" = 100755 ]; then chmod +x "$out/$path"; fi
    fi
  done
  git --git-dir="$g" rev-parse --short "$rev" >"$out/.snapshot-commit"
}

for p in "${projects[@]}"; do
  read -r name repo commit var <<<"$p"
  gitdir=${!var:-}
  if [ -z "$gitdir" ]; then
    tmp=$DEST/.$name.git
    if [ ! -d "$tmp" ]; then
      git clone --bare --filter=blob:none "https://github.com/$repo.git" "$tmp"
    fi
    gitdir=$tmp rev=$commit
  else
    rev=HEAD
  fi
  echo "$name: $(git --git-dir="$gitdir" log -1 --format='%h %ci' "$rev")"
  extract "$gitdir" "$rev" "$DEST/$name"
done
echo "done: TLSFUZZER_DIR=$DEST/tlsfuzzer TLSLITE_DIR=$DEST/tlslite-ng KYBER_DIR=$DEST/kyber-py"
