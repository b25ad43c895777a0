"""The index under faults, with the real command line, embedder and files: a `rag index` killed
(SIGKILL) at each step of a write leaves the last published index answering exactly as before and
its leftovers are removed by the next run; a full disk is a one-line error with the old index
intact; a damaged manifest, index file, chunk row or embedding cache is detected by its checksum,
reported with the fix, and rebuilt."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.files import is_no_space, stale_tmp_files
from rag.search.index import MANIFEST, load, read_manifest, verify_files
from rag.search.store import FILE as STORE_FILE
from rag.search.store import ChunkStore

REPO = Path(__file__).resolve().parent.parent
KILL_AT = Path(__file__).with_name("kill_at.py")
QUESTIONS = [
    "忻州今年要新认定多少家高新技术企业？",
    "代县今年全县5G基站要达到多少座？",
    "太原市去年地区生产总值增长多少？",
    "乙县今年要新建多少座冷链仓库？",
]
# an invented county's report: the run that is killed adds it (its chunks are embedded, written, indexed)
EXTRA = """乙县2024年政府工作报告

——2024年1月18日在乙县第十届人民代表大会第三次会议上

各位代表：

现在，我代表县人民政府，向大会报告工作，请予审议。

一、2023年工作回顾

过去一年，全县地区生产总值增长4.6%，一般公共预算收入完成8.2亿元。

新建高标准农田3.1万亩，粮食总产量稳定在21万吨。

二、2024年工作安排

（一）壮大县域特色产业

今年全县新建冷链仓库14座，培育农产品加工企业9家，乙县小米品牌销售额突破3亿元。

（二）改善城乡人居环境

改造农村户厕2600座，新建污水管网35公里，完成甲镇集中供暖改造。

（三）办好民生实事

新增城镇就业岗位2800个，新建普惠性幼儿园6所，县医院新建胸痛中心。
"""


def copy_index(seed_index, dest: Path):
    """Settings on a private copy of the seed index (its cached embeddings come along)."""
    shutil.copytree(seed_index.index_dir, dest)
    return seed_index.model_copy(update={"index_dir": dest})


def run(settings, *args: str, kill: str | None = None, n: int = 1, **kw) -> subprocess.CompletedProcess:
    """`rag ARGS` in a new process on `settings`' index folder, SIGKILLed at `kill` when given."""
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_SEEDS_DIR": str(settings.seeds_dir),
        "COLUMNS": "200",
    }
    head = [sys.executable, str(KILL_AT), kill, str(n), "--"] if kill else [sys.executable, "-m", "rag.cli.main"]
    return subprocess.run([*head, *args], env=env, capture_output=True, text=True, timeout=600, cwd=REPO, **kw)


def searches(settings, embedder) -> list:
    """What `rag search --json` prints for each question (the same Retriever, in this process)."""
    from rag.search.retrieve import Retriever

    retriever = Retriever(settings, embedder=embedder)
    try:
        return [[r.to_dict() for r in retriever.search(q, 5)] for q in QUESTIONS]
    finally:
        retriever.store.close()


def leftovers(settings) -> list[str]:
    """Temporary files of dead processes and build folders the manifest does not name."""
    d = settings.index_dir
    named = read_manifest(settings)["build_dir"]
    out = [p.name for p in d.glob("build-*") if p.name != named]
    for folder in (d, d / "cache", d / "uploads"):
        out += [p.name for p in stale_tmp_files(folder)]
    return out


@pytest.fixture(scope="module")
def embedder(seed_index):
    from rag.search.embed import get_embedder

    return get_embedder(seed_index)


@pytest.fixture(scope="module")
def extra(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("extra")
    (folder / "乙县2024年政府工作报告.txt").write_text(EXTRA, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def references(seed_index, embedder, extra, tmp_path_factory):
    """Search results of the seed index, and of the index a complete `rag index seeds+extra` makes."""
    old = searches(seed_index, embedder)
    settings = copy_index(seed_index, tmp_path_factory.mktemp("complete") / "index")
    done = run(settings, "index", "--quiet", str(seed_index.seeds_dir), str(extra))
    assert done.returncode == 0, done.stderr
    new = searches(settings, embedder)
    assert new != old and any(r["doc"] != old_r["doc"] for r, old_r in zip(new[3], old[3]))
    return old, new


# --- kill -9 in the middle of a build ------------------------------------------------------------------------
# (point, whether the killed run's index is the one published afterwards)
POINTS = [
    ("embed", False),
    ("store-write", False),
    ("vectors", False),
    ("bm25", False),
    ("cache", False),
    ("commit", True),
    ("publish", True),
]


@pytest.mark.parametrize("point,published", POINTS, ids=[p for p, _ in POINTS])
def test_a_build_killed_at_any_step_leaves_an_index_that_answers_as_before(
    seed_index, embedder, extra, references, tmp_path, point, published
):
    old, new = references
    settings = copy_index(seed_index, tmp_path / "index")
    killed = run(settings, "index", "--quiet", str(seed_index.seeds_dir), str(extra), kill=point)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    # the store and the index are published together: before the store's commit the old pair
    # answers, after it the new pair (a manifest left unrenamed is published by the next reader)
    assert searches(settings, embedder) == (new if published else old)
    load(settings)  # every file checks against its sha256
    again = run(settings, "index", "--quiet", str(seed_index.seeds_dir), str(extra))
    assert again.returncode == 0, again.stderr
    assert leftovers(settings) == []
    assert not list((settings.index_dir / "cache").glob(".*"))
    assert searches(settings, embedder) == new


def test_leftovers_of_a_dead_build_are_removed_at_the_next_ingest(seed_index, extra, tmp_path):
    settings = copy_index(seed_index, tmp_path / "index")
    killed = run(settings, "index", "--quiet", str(seed_index.seeds_dir), str(extra), kill="cache")
    assert killed.returncode == -9
    before = leftovers(settings)
    assert any(n.startswith("build-") for n in before) and any(n.endswith(".tmp") for n in before), before
    done = run(settings, "ingest", "--json", str(seed_index.seeds_dir))
    assert done.returncode == 0, done.stderr
    assert leftovers(settings) == []


def test_the_search_command_prints_the_same_after_a_killed_build(seed_index, extra, tmp_path):
    settings = copy_index(seed_index, tmp_path / "index")
    before = run(settings, "search", "--json", QUESTIONS[0])
    assert run(settings, "index", "--quiet", str(seed_index.seeds_dir), str(extra), kill="vectors").returncode == -9
    after = run(settings, "search", "--json", QUESTIONS[0])
    assert before.returncode == after.returncode == 0 and json.loads(after.stdout) == json.loads(before.stdout)


# --- a full disk ------------------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs (mounting needs root; skipped with the reason otherwise)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): the disk-full test needs root"
        )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """A file that takes all of the file system's free space but `leave` bytes."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free
    with filler.open("wb") as fh:
        fh.truncate(0)
        fh.write(b"\0" * max(0, free - leave))
    return filler


# With 4 KiB left the first write to fail is the store's or the index's, whichever reaches the disk first
# (SQLite keeps an uncommitted change in its page cache until it spills); with 700 KiB the store fits.
@pytest.mark.parametrize(
    "leave,what",
    [(4 * 1024, ("the chunk store", "the index")), (700 * 1024, ("the index",))],
    ids=["store-write", "index-write"],
)
def test_a_full_disk_is_one_line_and_the_old_index_stays(
    seed_index, embedder, extra, references, small_disk, leave, what
):
    old, new = references
    settings = copy_index(seed_index, small_disk / "index")
    manifest = (settings.index_dir / MANIFEST).read_bytes()
    filler = fill(small_disk, leave)
    failed = run(settings, "index", "--quiet", str(seed_index.seeds_dir), str(extra))
    assert failed.returncode == 1, failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert any(
        lines[0].startswith(f"error: no space left on the device while writing {w} in {settings.index_dir} (")
        for w in what
    ), lines[0]
    assert (settings.index_dir / MANIFEST).read_bytes() == manifest
    assert leftovers(settings) == [] and not list(settings.index_dir.glob(".*.tmp"))
    load(settings)  # every index file still matches its sha256
    filler.unlink()  # (SQLite needs a little room for its shared-memory file even to read the store)
    assert searches(settings, embedder) == old
    assert run(settings, "index", "--quiet", str(seed_index.seeds_dir), str(extra)).returncode == 0
    assert searches(settings, embedder) == new


def test_a_store_write_on_a_full_disk_names_the_store_and_keeps_its_content(seed_index, extra, small_disk):
    """The store's own write, committed at once, fails at the store (not later, at the index)."""
    from rag.chunk.document import doc_summary
    from rag.ingest import ingest_paths

    settings = copy_index(seed_index, small_disk / "index")
    docs = ingest_paths([seed_index.seeds_dir, extra], settings, progress=False)
    store = ChunkStore(settings.index_dir)
    before, generation = store.documents(), store.generation
    fill(small_disk, 4 * 1024)
    with pytest.raises(RagError, match="^no space left on the device while writing the chunk store in "):
        store.write(docs, [doc_summary(d) for d in docs])
    assert store.generation == generation and not store.pending and store.documents() == before
    store.close()


def test_errors_that_mean_no_room(tmp_path):
    import errno
    import sqlite3

    for code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        assert is_no_space(OSError(code, os.strerror(code)))
    assert is_no_space(sqlite3.OperationalError("database or disk is full"))
    assert is_no_space(RuntimeError("fwrite error: 28 (No space left on device)"))
    assert not is_no_space(OSError(errno.EACCES, "Permission denied"))


# --- damaged files --------------------------------------------------------------------------------------------------
def flip(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if at is None else at
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_every_damaged_index_file_is_named_with_the_fix(seed_index, tmp_path):
    settings = copy_index(seed_index, tmp_path / "index")
    manifest = read_manifest(settings)
    build = settings.index_dir / manifest["build_dir"]
    assert set(manifest["files"]) >= {
        "vectors.faiss",
        "ids.npy",
        "keys.npy",
        "bm25/data.csc.index.npy",
        "bm25/vocab.index.json",
    }
    for name in manifest["files"]:
        original = (build / name).read_bytes()
        flip(build / name)
        with pytest.raises(
            RagError,
            match=rf"^index file {name} is damaged \(checksum mismatch\); "
            r"run `rag index --rebuild`$",
        ):
            load(settings)
        (build / name).write_bytes(original)
    (build / "ids.npy").unlink()
    with pytest.raises(RagError, match="index file ids.npy is missing"):
        load(settings)


def test_a_damaged_manifest_is_detected_even_when_it_still_parses(seed_index, tmp_path):
    settings = copy_index(seed_index, tmp_path / "index")
    path = settings.index_dir / MANIFEST
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"chunk_count": ', '"chunk_count": 1'), encoding="utf-8")
    with pytest.raises(RagError, match=r"manifest .* is damaged \(checksum mismatch\); run `rag index --rebuild`"):
        load(settings)
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(RagError, match=r"manifest .* is damaged .*; run `rag index --rebuild`"):
        load(settings)
    shown = run(settings, "search", QUESTIONS[0])
    assert shown.returncode == 1 and len(shown.stderr.strip().splitlines()) == 1 and "Traceback" not in shown.stderr
    assert "rag index --rebuild" in shown.stderr


def damage_a_chunk_row(settings, needle: str = "高新技术企业") -> None:
    """Change one character inside a stored chunk's text (SQLite's own checks still pass): the
    first two characters of `needle` become 高薪 (same length in UTF-8)."""
    store = ChunkStore(settings.index_dir)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    path = settings.index_dir / STORE_FILE
    data = path.read_bytes()
    at = data.index(needle.encode("utf-8"))
    path.write_bytes(data[:at] + "高薪".encode() + data[at + len(needle[:2].encode("utf-8")) :])


@pytest.fixture(scope="module")
def small_index(embedder, extra, tmp_path_factory):
    """An index of the invented county's report alone (a rebuild embeds a dozen chunks, not the seeds)."""
    from rag.ingest import ingest_paths
    from rag.search.index import build
    from rag.settings import Settings

    settings = Settings(index_dir=tmp_path_factory.mktemp("small") / "index", seeds_dir=extra)
    build(settings, docs=ingest_paths([extra], settings, progress=False), progress=False, embedder=embedder)
    return settings


def test_damaged_files_are_reported_by_the_commands_and_rebuilt(small_index, embedder, tmp_path):
    settings = copy_index(small_index, tmp_path / "index")
    before = searches(settings, embedder)
    build = settings.index_dir / read_manifest(settings)["build_dir"]
    flip(build / "vectors.faiss")
    damage_a_chunk_row(settings, "冷链仓库")
    store = ChunkStore(settings.index_dir)
    with pytest.raises(RagError, match=r"chunk store .* is damaged .*; run `rag index --rebuild`"):
        store.verify()
    store.close()
    for args in (["search", QUESTIONS[3]], ["index", "--quiet"]):
        shown = run(settings, *args)
        assert shown.returncode == 1, (args, shown.stderr)
        lines = shown.stderr.strip().splitlines()
        assert len(lines) == 1 and "damaged" in lines[0] and "rag index --rebuild" in lines[0], (args, shown.stderr)
    fixed = run(settings, "index", "--rebuild", "--quiet")
    assert fixed.returncode == 0, fixed.stderr
    ChunkStore(settings.index_dir).verify()
    assert searches(settings, embedder) == before


def test_a_damaged_row_is_never_cited(seed_index, embedder, tmp_path):
    """The damaged chunk is one a question retrieves: the search is refused, not answered with it."""
    from rag.search.retrieve import Retriever

    settings = copy_index(seed_index, tmp_path / "index")
    damage_a_chunk_row(settings)
    retriever = Retriever(settings, embedder=embedder)
    with pytest.raises(RagError, match=r"chunk store .* is damaged \(a row does not match its checksum\)"):
        retriever.search(QUESTIONS[0], 5)
    retriever.store.close()


def test_a_damaged_embedding_cache_is_detected_and_rebuilt(embedder, extra, tmp_path):
    from rag.ingest import ingest_paths
    from rag.search.embed import EmbeddingCache
    from rag.search.index import build
    from rag.settings import Settings

    settings = Settings(index_dir=tmp_path / "index", seeds_dir=extra)
    docs = ingest_paths([extra], settings, progress=False)
    first = build(settings, docs=docs, progress=False, embedder=embedder)
    assert first.embedded == first.chunks > 5
    cache = EmbeddingCache(settings.index_dir / "cache", embedder.model_id, embedder.dim)
    assert cache.damaged is None and len(cache.vectors) == first.chunks
    flip(cache.path, at=cache.path.stat().st_size - 200)  # inside the vectors (the zip's CRC also notices)
    cache = EmbeddingCache(settings.index_dir / "cache", embedder.model_id, embedder.dim)
    assert cache.damaged and cache.vectors == {}
    again = build(settings, docs=docs, progress=False, embedder=embedder)
    assert again.embedded == again.chunks  # embedded again instead of trusting the damaged vectors
    cache = EmbeddingCache(settings.index_dir / "cache", embedder.model_id, embedder.dim)
    assert cache.damaged is None and len(cache.vectors) == again.chunks
    verify_files(settings.index_dir / read_manifest(settings)["build_dir"], read_manifest(settings)["files"])
