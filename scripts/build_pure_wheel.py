#!/usr/bin/env python3
"""Build ferrotune's pure-Python wheel (``ferrotune-<version>-py3-none-any.whl``).

It holds the Python package without the native module ``ferrotune._core``: on a platform without a
prebuilt abi3 wheel, ``pip install ferrotune`` picks this wheel, and ferrotune runs on its numpy
fallback (same results, the slow path; ferrotune says so with a ``FallbackWarning``).

Standard library only (Python >= 3.11, or ``tomli`` installed): no Rust toolchain, no build backend.
The metadata is made from ``[project]`` in ``pyproject.toml`` and the version from the Cargo
workspace (``[workspace.package] version`` in ``Cargo.toml``), the one place it lives; the test
``tests/test_wheel.py`` checks that it matches what maturin writes into the native wheel.

    python3 scripts/build_pure_wheel.py [--out-dir DIST_DIR]      # prints the wheel's path
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import re
import sys
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ferrotune"
# The native module (and its type stub), which the pure wheel leaves out.
NATIVE = re.compile(r"^_core(\..*)?\.(so|pyd|dylib|pyi)$")
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dylib")
# Fixed zip timestamps, so that the same sources give the same bytes (as maturin does).
EPOCH = (1980, 1, 1, 0, 0, 0)
HANDLED_KEYS = {
    "name",
    "version",
    "dynamic",
    "description",
    "readme",
    "requires-python",
    "license",
    "authors",
    "maintainers",
    "keywords",
    "classifiers",
    "urls",
    "dependencies",
    "optional-dependencies",
    "scripts",
    "gui-scripts",
    "entry-points",
}


def cargo_version(root: Path) -> str:
    """The workspace version from Cargo.toml, in PEP 440 spelling (as maturin converts it)."""
    cargo = tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))
    version = cargo["workspace"]["package"]["version"]
    m = re.fullmatch(r"(\d+\.\d+\.\d+)(?:-(alpha|beta|rc|dev)\.?(\d+))?", version)
    if m is None:
        raise SystemExit(f"Cargo.toml: version {version!r} has no PEP 440 spelling known here")
    release, pre, num = m.groups()
    if pre is None:
        return release
    return release + {"alpha": "a", "beta": "b", "rc": "rc", "dev": ".dev"}[pre] + num


def _people(entries: list[dict[str, str]]) -> tuple[str | None, str | None]:
    names = [e["name"] for e in entries if "name" in e and "email" not in e]
    emails = [
        f"{e['name']} <{e['email']}>" if "name" in e else e["email"]
        for e in entries
        if "email" in e
    ]
    return (", ".join(names) or None, ", ".join(emails) or None)


def _with_extra(requirement: str, extra: str) -> str:
    if ";" in requirement:
        req, marker = (part.strip() for part in requirement.split(";", 1))
        return f"{req} ; ({marker}) and extra == '{extra}'"
    return f"{requirement.strip()} ; extra == '{extra}'"


def metadata(root: Path, version: str) -> tuple[str, str]:
    """METADATA and entry_points.txt (empty when there are none) for the wheel."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    unknown = set(project) - HANDLED_KEYS
    if unknown:
        raise SystemExit(
            f"pyproject.toml [project] has keys this script does not write: {sorted(unknown)}; "
            "teach scripts/build_pure_wheel.py about them"
        )
    dynamic = set(project.get("dynamic", []))
    if dynamic - {"version"}:
        raise SystemExit(
            f"only the version may be dynamic here, not {sorted(dynamic - {'version'})}"
        )
    if "version" in project and "version" not in dynamic:
        version = project["version"]

    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {version}"]
    if "description" in project:
        lines.append(f"Summary: {project['description']}")
    if "keywords" in project:
        lines.append(f"Keywords: {','.join(project['keywords'])}")
    for field, key in (("Author", "authors"), ("Maintainer", "maintainers")):
        names, emails = _people(project.get(key, []))
        if names:
            lines.append(f"{field}: {names}")
        if emails:
            lines.append(f"{field}-email: {emails}")
    license_ = project.get("license")
    if isinstance(license_, dict) and "text" in license_:
        lines.append(f"License: {license_['text']}")
    elif isinstance(license_, dict) and "file" in license_:
        text = (root / license_["file"]).read_text(encoding="utf-8")
        lines.append("License: " + text.strip().replace("\n", "\n       "))
    elif isinstance(license_, str):
        lines.append(f"License-Expression: {license_}")
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    for label, url in project.get("urls", {}).items():
        lines.append(f"Project-URL: {label}, {url}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {r}" for r in project.get("dependencies", [])]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {_with_extra(r, extra)}" for r in reqs]

    body = ""
    readme = project.get("readme")
    if readme is not None:
        if isinstance(readme, str):
            readme = {"file": readme}
        body = readme.get("text") or (root / readme["file"]).read_text(encoding="utf-8")
        content_type = readme.get("content-type")
        if content_type is None:
            suffix = Path(readme.get("file", "")).suffix.lower()
            content_type = {".md": "text/markdown", ".rst": "text/x-rst"}.get(suffix, "text/plain")
        lines.append(f"Description-Content-Type: {content_type}")
    meta = "\n".join(lines) + "\n" + (f"\n{body}" if body else "")

    groups: dict[str, dict[str, str]] = {}
    if project.get("scripts"):
        groups["console_scripts"] = project["scripts"]
    if project.get("gui-scripts"):
        groups["gui_scripts"] = project["gui-scripts"]
    groups.update(project.get("entry-points", {}))
    entry_points = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) + "\n"
        for group, items in groups.items()
        if items
    )
    return meta, entry_points


def package_files(root: Path) -> list[tuple[str, Path]]:
    """(archive name, source path) of the Python package's files, native module excluded."""
    base = root / "python"
    out = []
    for dirpath, dirnames, filenames in os.walk(base / PACKAGE):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if NATIVE.match(name) or name.endswith(SKIP_SUFFIXES):
                continue
            path = Path(dirpath) / name
            out.append((path.relative_to(base).as_posix(), path))
    return out


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def build(out_dir: Path, root: Path = ROOT) -> Path:
    version = cargo_version(root)
    meta, entry_points = metadata(root, version)
    dist_info = f"{PACKAGE}-{version}.dist-info"
    wheel_meta = (
        "Wheel-Version: 1.0\n"
        "Generator: ferrotune scripts/build_pure_wheel.py\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    )
    entries: list[tuple[str, bytes]] = [(n, p.read_bytes()) for n, p in package_files(root)]
    if not any(n == f"{PACKAGE}/__init__.py" for n, _ in entries):
        raise SystemExit(f"no {PACKAGE}/__init__.py under {root / 'python'}")
    entries.append((f"{dist_info}/METADATA", meta.encode("utf-8")))
    entries.append((f"{dist_info}/WHEEL", wheel_meta.encode("utf-8")))
    if entry_points:
        entries.append((f"{dist_info}/entry_points.txt", entry_points.encode("utf-8")))

    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in entries:
        writer.writerow((name, _record_hash(data), len(data)))
    writer.writerow((f"{dist_info}/RECORD", "", ""))
    entries.append((f"{dist_info}/RECORD", record.getvalue().encode("utf-8")))

    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{PACKAGE}-{version}-py3-none-any.whl"
    tmp = out_dir / f".{wheel.name}.part"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    tmp.replace(wheel)
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-o", "--out-dir", type=Path, default=ROOT / "dist", help="default: dist/")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository (default: this script's)"
    )
    args = parser.parse_args(argv)
    print(build(args.out_dir, args.root.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
