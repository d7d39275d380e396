# Shared by bin/run and bin/test: create .venv with Python 3.11+ and install requirements.txt.
# Sourced, not run; leaves PY pointing at the venv's python.

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "Custory needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating .venv"
  "$(find_python)" -m venv .venv
fi
PY=.venv/bin/python
# Reinstall only when requirements.txt changed since the last successful install.
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
# SKIP_INSTALL=1 uses .venv as it is (the bin/run test must not change a shared environment).
if [ "${SKIP_INSTALL:-0}" != "1" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> Installing requirements.txt"
  "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$PY" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" >"$stamp"
fi
mkdir -p var
