#!/usr/bin/env bash
# Install RepoHub and what it needs into a virtualenv, reusing it while its inputs are unchanged.
#   scripts/bootstrap.sh          runtime only (what `repohub serve` needs)
#   scripts/bootstrap.sh test     plus test tools and the system packages the tests drive
# The venv lives in $REPOHUB_VENV (default: .venv in the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-runtime}"
venv="${REPOHUB_VENV:-$PWD/.venv}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3

apt_packages=(git)
[ "$profile" = test ] && apt_packages+=(git-lfs chromium)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "bootstrap: please install these Debian packages: ${missing[*]}" >&2
    exit 1
  fi
fi

extras="$([ "$profile" = test ] && echo "[test,train]" || echo "[train]")"
stamp_input="$("$python" --version 2>&1) $profile $(sha256sum pyproject.toml | cut -d' ' -f1)"
stamp="$(echo "$stamp_input" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.repohub-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "bootstrap: building virtualenv in $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e ".$extras"
  echo "$stamp" > "$venv/.repohub-stamp"
else
  # The venv is reused; point its editable install at this checkout.
  "$venv/bin/pip" install -q --no-deps -e . >/dev/null
fi
echo "bootstrap: ready ($venv)"
