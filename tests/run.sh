#!/usr/bin/env bash
# The project's test command (README.md): builds the native module from source in a fresh
# virtual environment, then runs the Rust checks and tests and pytest on both backends.
#
#   bash tests/run.sh            # everything
#   FERROTUNE_TEST_VENV=/path    # reuse/keep a virtual environment at that path
#   FERROTUNE_PYTEST_ARGS="-x"   # extra pytest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PYTHON=${PYTHON:-python3}

step() { printf '\n==> %s\n' "$*"; }

venv=${FERROTUNE_TEST_VENV:-}
if [ -z "$venv" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  venv="$tmp/venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  step "creating virtual environment $venv"
  "$PYTHON" -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --upgrade pip

step "building and installing ferrotune from source (native module via maturin)"
"$py" -m pip install --quiet "$root[test]"
"$py" - <<'PY'
import ferrotune, ferrotune._core as core
assert ferrotune.get_backend() == "rust", ferrotune.get_backend()
print("ferrotune", ferrotune.__version__, "native module", core.__version__, "from", core.__file__)
PY

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo test"
cargo test --workspace --quiet

run_pytest() {
  local backend=$1
  step "pytest (FERROTUNE_BACKEND=$backend)"
  set +e
  # Run from a neutral directory so that the installed package, not the source tree, is tested.
  (cd "$root/tests" && FERROTUNE_REQUIRE_NATIVE=1 FERROTUNE_BACKEND=$backend "$py" -m pytest -q -p no:cacheprovider \
      --rootdir "$root" -c "$root/pyproject.toml" ${FERROTUNE_PYTEST_ARGS:-} "$root/tests")
  local rc=$?
  set -e
  if [ $rc -eq 5 ]; then
    echo "pytest collected no tests for backend $backend: failing" >&2
    exit 1
  elif [ $rc -ne 0 ]; then
    echo "pytest failed for backend $backend (exit $rc)" >&2
    exit $rc
  fi
}
run_pytest rust
run_pytest python
step "all checks passed"
