# Sourced by scripts/dashboard and scripts/test: make sure the project's virtual environment
# .venv exists and has the packages of the given requirements file, then put it first on PATH.
#
# Always a virtual environment: Debian's own /usr/bin/python3 is "externally managed" (PEP 668)
# and refuses `pip install` outside one, and a venv keeps the project's pins away from the
# system's packages. PYTHON=/path/to/python3 picks the interpreter that creates it.
# Installs are skipped when the requirement files have not changed since the last one.

ensure_venv() {
  local requirements="$1"
  local python="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      # Debian ships venv's pip bootstrap separately (python3-venv)
      echo "scripts: installing Debian's python3-venv (needed to create .venv)" >&2
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    echo "scripts: creating the project's virtual environment .venv with $("$python" -c 'import sys; print(sys.executable)')" >&2
    "$python" -m venv .venv
  fi
  local stamp=".venv/.installed-$(basename "$requirements")"
  local digest
  digest="$(cat "$requirements" requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    echo "scripts: installing $requirements and the package (editable) into .venv" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
      -r "$requirements" -e .
    echo "$digest" > "$stamp"
  fi
  export PATH="$PWD/.venv/bin:$PATH"
  export VIRTUAL_ENV="$PWD/.venv"
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
