# Shared by scripts/serve and scripts/test: a project virtualenv, installed from pyproject.toml
# and re-installed only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "liveblog needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi

install_python_deps() {  # $1: the extras to install, e.g. "[test]" or ""
  local stamp=.venv/.installed$1
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".$1"
    touch "$stamp"
  fi
}

install_debian_packages() {  # installs the named Debian packages that are missing
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || {
      echo "Please install these Debian packages first: ${missing[*]}" >&2
      exit 1
    }
    sudo=sudo
  fi
  echo "Installing ${missing[*]} ..." >&2
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
