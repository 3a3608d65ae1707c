"""The prebuilt wheels (issue #7): ``pip install ferrotune`` with no Rust toolchain.

* The abi3 wheel (``FERROTUNE_WHEEL``; ``tests/run.sh`` builds it once and sets it) is installed
  into a fresh virtual environment with no ``cargo``/``rustc`` on PATH and binary packages only,
  then smoke-checked there: import, native backend active, versions agree, a short study,
  ``python -m ferrotune demo --quick``; on Linux ``auditwheel show`` must accept it as
  manylinux2014 (``manylinux_2_17``) and its native module must be stripped.
* The pure-Python ``py3-none-any`` wheel (``scripts/build_pure_wheel.py``; ``FERROTUNE_PURE_WHEEL``
  when set), the route for platforms without a prebuilt wheel, installs the same way and runs on
  the fallback, saying that it is the slow path.
* A stale native module (built for another version than the package's) is refused with
  ``NativeBuildMismatchError`` instead of being used.

Without ``FERROTUNE_WHEEL`` the wheel is built here when maturin and zig are available (as
``tests/run.sh`` does); otherwise the tests that need it are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WHEEL_ENV = "FERROTUNE_WHEEL"
PURE_WHEEL_ENV = "FERROTUNE_PURE_WHEEL"
IS_LINUX = sys.platform.startswith("linux")
IS_WINDOWS = os.name == "nt"
# The release build: abi3, manylinux2014 through zig (as tests/run.sh builds it).
BUILD_COMMAND = ["maturin", "build", "--release", "--zig", "--compatibility", "manylinux2014"]
MANYLINUX2014 = re.compile(r"^(manylinux2014|manylinux_2_17)_(x86_64|aarch64)$")
MAX_WHEEL_BYTES = 5 * 1024 * 1024  # a stripped LTO build is well under 1 MB; a debug one is not
INSTALL_TIMEOUT = 1200
RUN_TIMEOUT = 600


# --------------------------------------------------------------------------------------------
# helpers


def _cargo_version() -> str:
    """``[workspace.package] version`` from Cargo.toml, the one place the version lives."""
    text = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    section = re.search(r"^\[workspace\.package\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    assert section is not None, "Cargo.toml has no [workspace.package] section"
    match = re.search(r'^version\s*=\s*"([^"]+)"', section.group(1), re.M)
    assert match is not None, "Cargo.toml [workspace.package] has no version"
    return match.group(1)


def _wheel_tags(wheel: Path) -> tuple[str, list[str]]:
    """(version of the dist-info, ``Tag:`` lines of the WHEEL file)."""
    with zipfile.ZipFile(wheel) as zf:
        wheel_files = [n for n in zf.namelist() if n.endswith(".dist-info/WHEEL")]
        assert len(wheel_files) == 1, wheel_files
        text = zf.read(wheel_files[0]).decode("utf-8")
    version = wheel_files[0].split("/")[0][: -len(".dist-info")].split("-", 1)[1]
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    return version, tags


def _metadata(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        text = zf.read(name).decode("utf-8")
    fields: dict[str, list[str]] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        if line[:1].isspace() or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields.setdefault(key.strip().lower(), []).append(value.strip())
    return fields


def _normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).replace('"', "'")


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if IS_WINDOWS else "bin/python")


def _no_toolchain_env(venv: Path) -> dict[str, str]:
    """The environment of a user without Rust: the venv first on PATH and no directory that
    holds cargo or rustc; no Rust, maturin or ferrotune variables, no PYTHONPATH."""
    drop_prefixes = ("CARGO", "RUSTUP", "RUSTC", "RUSTFLAGS", "FERROTUNE_", "MATURIN")
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes) and k not in drop}
    kept = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not any(shutil.which(tool, path=d) for tool in ("cargo", "rustc"))
    ]
    env["PATH"] = os.pathsep.join([str(_venv_python(venv).parent), *kept])
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONUTF8"] = "1"  # the demo's tables print the same on Windows consoles
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    for tool in ("cargo", "rustc"):
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is still on PATH"
    return env


def _run(
    cmd: list[str], env: dict[str, str] | None, cwd: Path, timeout: float = RUN_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd,
        env=env,
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"command failed with exit {proc.returncode}: {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}",
            pytrace=False,
        )
    return proc


def _make_venv(path: Path, requirements: list[str]) -> tuple[Path, dict[str, str]]:
    """A fresh venv with ``requirements`` installed from wheels only (nothing is compiled)."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=RUN_TIMEOUT)
    env = _no_toolchain_env(path)
    python = _venv_python(path)
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--only-binary=:all:", *requirements],
        env,
        path,
        timeout=INSTALL_TIMEOUT,
    )
    return python, env


def _script(python: Path, env: dict[str, str], cwd: Path, code: str) -> dict:
    """Run ``code`` in the venv; its last line of output is a JSON report."""
    proc = _run([str(python), "-c", textwrap.dedent(code)], env, cwd)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _zig_available() -> bool:
    if shutil.which("zig"):
        return True
    try:
        import ziglang  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ferrotune-wheel-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module")
def native_wheel(workdir: Path) -> Path:
    given = os.environ.get(WHEEL_ENV)
    if given:
        wheel = Path(given)
        assert wheel.is_file(), f"{WHEEL_ENV}={given} is not a file"
        return wheel
    if shutil.which("maturin") is None:
        pytest.skip(
            f"{WHEEL_ENV} is not set and maturin is not installed, so there is no wheel to test "
            "(tests/run.sh builds one and sets it)"
        )
    if not _zig_available():
        pytest.skip(
            f"{WHEEL_ENV} is not set and zig is missing (pip install ziglang), which the "
            "manylinux2014 build needs (tests/run.sh installs it)"
        )
    out = workdir / "dist"
    env = dict(os.environ)
    # `--zig` runs `python3 -m ziglang`: let that be this interpreter, which has it.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    _run([*BUILD_COMMAND, "--out", str(out)], env, ROOT, timeout=1800)
    (wheel,) = out.glob("ferrotune-*.whl")
    return wheel


@pytest.fixture(scope="module")
def native_venv(native_wheel: Path, workdir: Path) -> tuple[Path, dict[str, str]]:
    extra = ["auditwheel"] if IS_LINUX else []
    return _make_venv(workdir / "venv-native", [f"{native_wheel}[demo]", *extra])


@pytest.fixture(scope="module")
def pure_wheel(workdir: Path) -> Path:
    given = os.environ.get(PURE_WHEEL_ENV)
    if given:
        wheel = Path(given)
        assert wheel.is_file(), f"{PURE_WHEEL_ENV}={given} is not a file"
        return wheel
    if sys.version_info < (3, 11):
        pytest.importorskip("tomli", reason="scripts/build_pure_wheel.py needs tomllib or tomli")
    script = ROOT / "scripts" / "build_pure_wheel.py"
    proc = _run([sys.executable, str(script), "--out-dir", str(workdir / "pure")], None, ROOT)
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pure_venv(pure_wheel: Path, workdir: Path) -> tuple[Path, dict[str, str]]:
    return _make_venv(workdir / "venv-pure", [str(pure_wheel)])


# --------------------------------------------------------------------------------------------
# the native abi3 wheel


def test_native_wheel_is_abi3_and_manylinux2014(native_wheel: Path) -> None:
    version, tags = _wheel_tags(native_wheel)
    assert version == _cargo_version(), "the wheel's version must come from Cargo.toml"
    assert tags, "WHEEL lists no tags"
    for tag in tags:
        interpreter, abi, platform = tag.split("-")
        assert (interpreter, abi) == ("cp39", "abi3"), f"{tag}: not a CPython >= 3.9 abi3 wheel"
        if IS_LINUX:
            assert MANYLINUX2014.match(platform), f"{tag}: not manylinux2014 / manylinux_2_17"
    assert "-cp39-abi3-" in native_wheel.name, native_wheel.name
    with zipfile.ZipFile(native_wheel) as zf:
        natives = [n for n in zf.namelist() if re.fullmatch(r"ferrotune/_core\..*(so|pyd)", n)]
    assert len(natives) == 1, natives
    size = native_wheel.stat().st_size
    assert size < MAX_WHEEL_BYTES, (
        f"{native_wheel.name}: {size} bytes, not a stripped release build?"
    )


@pytest.mark.skipif(not IS_LINUX, reason="auditwheel inspects Linux (ELF) wheels only")
def test_auditwheel_accepts_manylinux2014(
    native_wheel: Path, native_venv: tuple[Path, dict[str, str]], workdir: Path
) -> None:
    python, env = native_venv
    proc = _run([str(python), "-m", "auditwheel", "show", str(native_wheel)], env, workdir)
    text = " ".join(proc.stdout.split())
    consistent = re.search(r'is consistent with the following platform tag: "([^"]+)"', text)
    assert consistent is not None, proc.stdout
    assert re.fullmatch(r"manylinux_2_17_(x86_64|aarch64)", consistent.group(1)), proc.stdout
    assert "abi3" in text, proc.stdout
    # The release profile (Cargo.toml) has `strip = "symbols"`: no symbol table in the module.
    report = _script(
        python,
        env,
        workdir,
        f"""
        import io, json, zipfile
        from elftools.elf.elffile import ELFFile
        with zipfile.ZipFile({str(native_wheel)!r}) as zf:
            (name,) = [n for n in zf.namelist()
                       if n.startswith("ferrotune/_core.") and n.endswith(".so")]
            elf = ELFFile(io.BytesIO(zf.read(name)))
            print(json.dumps({{"sections": [s.name for s in elf.iter_sections()]}}))
        """,
    )
    assert ".symtab" not in report["sections"], "the native module is not stripped"


def test_native_wheel_smoke(
    native_wheel: Path, native_venv: tuple[Path, dict[str, str]], workdir: Path
) -> None:
    python, env = native_venv
    report = _script(
        python,
        env,
        workdir,
        """
        import json, sys, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import ferrotune
            from ferrotune import _core
            backend = ferrotune.get_backend()
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)

        def objective(trial):
            x = trial.suggest_float("x", -5.0, 5.0)
            lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
            n = trial.suggest_int("n", 1, 9)
            kind = trial.suggest_categorical("kind", ["a", "b", "c"])
            return (x - 1.0) ** 2 + abs(n - 4) + (kind != "b") + lr

        study = optuna.create_study(sampler=ferrotune.TPESampler(seed=3, n_startup_trials=5))
        study.optimize(objective, n_trials=25)
        print(json.dumps({
            "backend": backend,
            "version": ferrotune.__version__,
            "native_version": _core.__version__,
            "package": ferrotune.__file__,
            "native": _core.__file__,
            "prefix": sys.prefix,
            "fallback_warnings": [str(w.message) for w in caught
                                  if type(w.message).__name__ == "FallbackWarning"],
            "states": sorted({t.state.name for t in study.trials}),
            "n_trials": len(study.trials),
            "best": study.best_value,
        }))
        """,
    )
    assert report["backend"] == "rust"
    assert report["fallback_warnings"] == []
    version, _ = _wheel_tags(native_wheel)
    assert report["version"] == report["native_version"] == version
    prefix = Path(report["prefix"]).resolve()
    for key in ("package", "native"):
        assert Path(report[key]).resolve().is_relative_to(prefix), (
            f"{key} {report[key]} was not loaded from the fresh venv"
        )
    assert report["states"] == ["COMPLETE"] and report["n_trials"] == 25
    assert report["best"] < 10.0


def test_native_wheel_cli_and_quick_demo(
    native_venv: tuple[Path, dict[str, str]], workdir: Path
) -> None:
    python, env = native_venv
    info = _run([str(python), "-m", "ferrotune", "info"], env, workdir)
    assert re.search(r"^backend\s+rust$", info.stdout, re.M), info.stdout
    demo = _run([str(python), "-m", "ferrotune", "demo", "--quick"], env, workdir)
    assert "(backend: rust)" in demo.stdout, demo.stdout
    assert demo.stdout.rstrip().endswith("Done."), demo.stdout[-2000:]
    assert "FallbackWarning" not in demo.stderr, demo.stderr


# --------------------------------------------------------------------------------------------
# the pure-Python py3-none-any wheel: platforms without a prebuilt wheel


def test_pure_wheel_contents(pure_wheel: Path) -> None:
    version, tags = _wheel_tags(pure_wheel)
    assert tags == ["py3-none-any"], tags
    assert pure_wheel.name == f"ferrotune-{version}-py3-none-any.whl"
    assert version == _cargo_version()
    with zipfile.ZipFile(pure_wheel) as zf:
        names = zf.namelist()
        assert zf.testzip() is None
    assert "ferrotune/__init__.py" in names and "ferrotune/_numpy_core.py" in names
    assert not [n for n in names if "/_core." in n or n.endswith((".so", ".pyd", ".pyc"))], names


def test_pure_wheel_metadata_matches_native_wheel(pure_wheel: Path, native_wheel: Path) -> None:
    pure, native = _metadata(pure_wheel), _metadata(native_wheel)
    for field in ("name", "version", "requires-python", "summary"):
        assert pure.get(field) == native.get(field), field
    for field in ("requires-dist", "provides-extra", "classifier"):
        assert sorted(map(_normalise, pure.get(field, []))) == sorted(
            map(_normalise, native.get(field, []))
        ), field


def test_pure_wheel_falls_back_and_says_slow_path(
    pure_venv: tuple[Path, dict[str, str]], workdir: Path
) -> None:
    python, env = pure_venv
    report = _script(
        python,
        env,
        workdir,
        """
        import json, os, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import ferrotune
            backend = ferrotune.get_backend()
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=ferrotune.TPESampler(seed=1, n_startup_trials=4))
        study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 0.5) ** 2
                       + t.suggest_int("k", 0, 4), n_trials=12)
        os.environ["FERROTUNE_BACKEND"] = "rust"
        try:
            ferrotune.get_backend()
            rust_error = None
        except ferrotune.BackendUnavailableError as exc:
            rust_error = str(exc)
        print(json.dumps({
            "backend": backend,
            "native_available": ferrotune.native_available(),
            "warnings": [[type(w.message).__name__, str(w.message)] for w in caught],
            "n_complete": sum(t.state.name == "COMPLETE" for t in study.trials),
            "rust_error": rust_error,
        }))
        """,
    )
    assert report["backend"] == "python"
    assert report["native_available"] is False
    fallback = [msg for cls, msg in report["warnings"] if cls == "FallbackWarning"]
    assert len(fallback) == 1, report["warnings"]
    assert "slow path" in fallback[0] and "pure-Python" in fallback[0], fallback[0]
    assert report["n_complete"] == 12
    assert report["rust_error"] and "ferrotune._core" in report["rust_error"]
    info = _run([str(python), "-m", "ferrotune", "info"], env, workdir)
    assert re.search(r"^backend\s+python$", info.stdout, re.M), info.stdout


# --------------------------------------------------------------------------------------------
# a stale native module is refused


def _stale_tree(base: Path, package_version: str, native_version: str) -> Path:
    """The package's Python sources with a stand-in native module built "for" ``native_version``,
    beside a dist-info that says ``package_version``: as when an old ``_core`` is left over from
    an earlier build. Put on PYTHONPATH, it comes before any installed ferrotune."""
    base.mkdir(parents=True)
    pkg = base / "ferrotune"
    shutil.copytree(
        ROOT / "python" / "ferrotune",
        pkg,
        ignore=shutil.ignore_patterns("__pycache__", "_core.*", "*.so", "*.pyd", "*.dylib"),
    )
    (pkg / "_core.py").write_text(f'__version__ = "{native_version}"\n', encoding="utf-8")
    dist_info = base / f"ferrotune-{package_version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: ferrotune\nVersion: {package_version}\n", encoding="utf-8"
    )
    return base


_STALE_PROBE = """
import importlib.metadata, json, sys, warnings
result = {"version": importlib.metadata.version("ferrotune")}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        import ferrotune
    except ImportError as exc:
        result["import_error"] = type(exc).__name__
        result["error"] = str(exc)
        result["package"] = sys.modules["ferrotune._version"].__file__
    else:
        result["package"] = ferrotune.__file__
        result["backend"] = ferrotune.get_backend()
result["warnings"] = [str(w.message) for w in caught]
print(json.dumps(result))
"""


def _probe(tree: Path, backend: str, cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERROTUNE_")}
    env["PYTHONPATH"] = str(tree)
    env["FERROTUNE_BACKEND"] = backend
    proc = _run([sys.executable, "-c", _STALE_PROBE], env, cwd)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(report["package"]).resolve().is_relative_to(tree.resolve()), report
    return report


@pytest.mark.parametrize("backend", ["auto", "rust"])
def test_stale_native_module_is_refused(tmp_path: Path, backend: str) -> None:
    tree = _stale_tree(tmp_path / "site", package_version="7.3.1", native_version="7.2.0")
    report = _probe(tree, backend, tmp_path)
    assert report["version"] == "7.3.1"
    assert "backend" not in report, f"a stale native module was used: {report}"
    # refused eagerly, by `import ferrotune` itself, with the typed error
    assert report["import_error"] == "NativeBuildMismatchError", report
    message = report["error"]
    assert "7.3.1" in message and "7.2.0" in message and "stale build" in message, message


def test_stale_native_module_only_warns_when_python_backend_is_forced(tmp_path: Path) -> None:
    tree = _stale_tree(tmp_path / "site", package_version="7.3.1", native_version="7.2.0")
    report = _probe(tree, "python", tmp_path)
    assert report.get("backend") == "python", report
    assert any("stale build" in w and "7.2.0" in w for w in report["warnings"]), report


def test_matching_native_module_is_accepted(tmp_path: Path) -> None:
    """The control for the test above: the same stand-in, with the package's version, loads."""
    tree = _stale_tree(tmp_path / "site", package_version="7.3.1", native_version="7.3.1")
    report = _probe(tree, "rust", tmp_path)
    assert report.get("backend") == "rust", report
