#!/usr/bin/env bash
# The project's test command (README.md). In a fresh virtual environment it builds the native
# module from source ONCE, as the release wheel (abi3, manylinux2014 through zig), installs that
# wheel with the `test` extra, then runs cargo fmt/clippy/test and pytest on both backends.
# tests/test_wheel.py gets the wheel through FERROTUNE_WHEEL (and the pure-Python wheel through
# FERROTUNE_PURE_WHEEL) and checks it in venvs of its own with no Rust toolchain on PATH.
#
#   bash tests/run.sh            # everything
#   FERROTUNE_TEST_VENV=/path    # reuse/keep a virtual environment at that path
#   FERROTUNE_DIST=/path         # where the wheels go (default target/wheelhouse)
#   FERROTUNE_PYTEST_ARGS="-x"   # extra pytest arguments
#   FERROTUNE_PYTEST_WORKERS=1   # pytest-xdist workers (default: auto, one per CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PYTHON=${PYTHON:-python3}
start=$SECONDS

step() { printf '\n==> %s  [%ss]\n' "$*" "$((SECONDS - start))"; }

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

step "installing the wheel build tools (scripts/build-requirements.txt)"
"$py" -m pip install --quiet -r "$root/scripts/build-requirements.txt"

dist=${FERROTUNE_DIST:-$root/target/wheelhouse}
mkdir -p "$dist"
rm -f "$dist"/ferrotune-*.whl
# The release wheel: [profile.release] of Cargo.toml (fat LTO, one codegen unit, stripped),
# abi3 (CPython >= 3.9), linked by zig against glibc 2.17 symbols, so manylinux2014.
# `--zig` runs `python3 -m ziglang`: the venv's bin comes first on PATH for that.
build=(maturin build --release --zig --compatibility manylinux2014 --out "$dist")
step "building the wheel: ${build[*]}"
PATH="$venv/bin:$PATH" "${build[@]}"
step "building the pure-Python wheel: scripts/build_pure_wheel.py"
"$py" "$root/scripts/build_pure_wheel.py" --out-dir "$dist"

shopt -s nullglob
wheels=("$dist"/ferrotune-*-abi3-*.whl)
pure_wheels=("$dist"/ferrotune-*-py3-none-any.whl)
shopt -u nullglob
if [ ${#wheels[@]} -ne 1 ] || [ ${#pure_wheels[@]} -ne 1 ]; then
  echo "expected one abi3 and one py3-none-any wheel in $dist, found: ${wheels[*]} ${pure_wheels[*]}" >&2
  exit 1
fi
export FERROTUNE_WHEEL=${wheels[0]}
export FERROTUNE_PURE_WHEEL=${pure_wheels[0]}
for w in "$FERROTUNE_WHEEL" "$FERROTUNE_PURE_WHEEL"; do
  printf '    %s  %s bytes\n' "$(basename "$w")" "$(wc -c <"$w" | tr -d ' ')"
done

step "installing $(basename "$FERROTUNE_WHEEL") with the test extra"
"$py" -m pip uninstall --quiet --yes ferrotune >/dev/null 2>&1 || true
"$py" -m pip install --quiet "$FERROTUNE_WHEEL[test]"
(cd "$venv" && "$py" - <<'PY'
import ferrotune, ferrotune._core as core
assert ferrotune.get_backend() == "rust", ferrotune.get_backend()
assert ferrotune.__version__ == core.__version__, (ferrotune.__version__, core.__version__)
print("ferrotune", ferrotune.__version__, "native module", core.__version__, "from", core.__file__)
PY
)

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo test"
cargo test --workspace --quiet

# pytest-xdist workers (one per CPU by default): the tests are independent and mostly CPU-bound.
# The distributed tests start worker processes of their own and run alone, without xdist.
workers=${FERROTUNE_PYTEST_WORKERS:-auto}
run_pytest() {
  local backend=$1
  shift
  step "pytest (FERROTUNE_BACKEND=$backend) $*"
  set +e
  # Run from a neutral directory so that the installed package, not the source tree, is tested.
  (cd "$root/tests" && FERROTUNE_REQUIRE_NATIVE=1 FERROTUNE_BACKEND=$backend "$py" -m pytest -q -p no:cacheprovider \
      --rootdir "$root" -c "$root/pyproject.toml" --durations=10 "$@" ${FERROTUNE_PYTEST_ARGS:-})
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
# A throwaway PostgreSQL server (installed from the OS packages when missing) for the
# distributed tests; FERROTUNE_REQUIRE_POSTGRES=1 makes them fail rather than skip without it.
step "starting PostgreSQL (tests/postgres_server.sh)"
source "$root/tests/postgres_server.sh"
trap 'pg_test_server_stop; rm -rf "${tmp:-}"' EXIT
pg_test_server_start
export FERROTUNE_REQUIRE_POSTGRES=1
# The 4-workers-x-50-trials quality check over 3 seeds on PostgreSQL too (~100 s; default 1 seed).
export FERROTUNE_TEST_POSTGRES_SEEDS=${FERROTUNE_TEST_POSTGRES_SEEDS:-3}
distributed=("$root/tests/test_distributed.py" "$root/tests/test_docs_distributed.py")
run_pytest rust -n "$workers" --ignore="${distributed[0]}" --ignore="${distributed[1]}" "$root/tests"
run_pytest rust "${distributed[@]}"
# tests/test_wheel.py installs into venvs of its own and sets the backend there itself: it ran
# above, and once is enough. The distributed tests exercise storages and processes, not the
# numeric backend: once is enough for them too.
run_pytest python -n "$workers" --ignore="$root/tests/test_wheel.py" \
  --ignore="${distributed[0]}" --ignore="${distributed[1]}" "$root/tests"
step "all checks passed in $((SECONDS - start)) s"
