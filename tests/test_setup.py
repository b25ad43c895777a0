"""What `make setup` builds and in which order, read from the Makefile with `make -n -p` (nothing is
built or installed here, and no model is needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def _make(repo_root: Path, *args: str) -> str:
    out = subprocess.run(["make", "-n", "-p", *args], cwd=repo_root, capture_output=True, text=True, check=False)
    return out.stdout


def _make_var(repo_root: Path, name: str, *args: str) -> str:
    return next(
        line.split(":=", 1)[1].strip() for line in _make(repo_root, *args).splitlines() if line.startswith(f"{name} :=")
    )


def _recipe(repo_root: Path, target: str) -> str:
    """The recipe of `target` (its name as make expands it) from the make database, unexpanded."""
    lines = _make(repo_root).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if line.startswith("\t"):
            recipe.append(line[1:])
    return "\n".join(recipe)


_ZEN4 = "fpu avx avx2 fma f16c bmi2 avx512f avx512bw avx512vl avx512dq avx512_vnni avx512vbmi avx512_bf16"


@pytest.mark.parametrize(
    "flags, avx512, avx_vnni",
    [
        ("fpu sse4_2 avx avx2 fma f16c bmi2", False, False),
        ("fpu avx avx2 fma f16c bmi2 avx512f avx512bw avx512vl avx512dq", False, False),  # no VNNI: not enough
        (_ZEN4, True, False),  # AVX512-VNNI without the VEX-encoded AVX-VNNI (AMD Zen 4)
        (_ZEN4 + " avx_vnni amx_int8", True, True),  # a recent Intel core
    ],
)
def test_setup_builds_llama_cpp_for_the_cpu_it_runs_on(repo_root, tmp_path, flags, avx512, avx_vnni):
    """`make setup` picks the build flags from the CPU's: AVX-512 only with all of its parts, AVX-VNNI
    only where the CPU has it, the portable AVX2 set otherwise, AMX and -march=native never; each set
    has a wheel cache and a set-up stamp of its own."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    args = _make_var(repo_root, "LLAMA_CMAKE_ARGS", f"CPUINFO={cpuinfo}")
    assert ("-DGGML_AVX512=ON" in args) is avx512 and ("-DGGML_AVX512=OFF" in args) is not avx512
    assert ("-DGGML_AVX_VNNI=ON" in args) is avx_vnni
    assert "-DGGML_AVX2=ON" in args and "-DGGML_NATIVE=OFF" in args
    assert "-DGGML_AMX_INT8=OFF" in args and "AMX_INT8=ON" not in args
    portable = _make_var(repo_root, "LLAMA_WHEELS", f"CPUINFO={tmp_path / 'no-such-file'}")
    assert (_make_var(repo_root, "LLAMA_WHEELS", f"CPUINFO={cpuinfo}") != portable) is avx512
    stamp = _make_var(repo_root, "STAMP", f"CPUINFO={cpuinfo}")
    assert stamp.endswith(_make_var(repo_root, "LLAMA_WHEELS", f"CPUINFO={cpuinfo}").rsplit("/", 1)[1])


@pytest.mark.parametrize("cpuinfo", ["/proc/cpuinfo", "/no-such-file"])
def test_setup_builds_only_the_libraries_the_package_loads(repo_root, cpuinfo):
    """No multimodal library, no llama.cpp common library, no tests, tools, examples or server
    binaries, on every CPU: what llama_cpp (and its Python server) loads is libllama and libggml*."""
    args = _make_var(repo_root, "LLAMA_CMAKE_ARGS", f"CPUINFO={cpuinfo}").split()
    for off in ["LLAVA_BUILD", "LLAMA_BUILD_TESTS", "LLAMA_BUILD_TOOLS", "LLAMA_BUILD_EXAMPLES", "LLAMA_BUILD_SERVER"]:
        assert f"-D{off}=OFF" in args, off
        assert f"-D{off}=ON" not in args, off
    # llama-cpp-python forces LLAMA_BUILD_COMMON on in its cache; a file llama.cpp's project() includes
    # hides that entry (a -D on the command line would be overridden)
    hook = [a.split("=", 1)[1] for a in args if a.startswith("-DCMAKE_PROJECT_llama.cpp_INCLUDE=")]
    assert len(hook) == 1 and Path(hook[0]) == repo_root / "cmake" / "llama-lean.cmake"
    code = [line.split("#")[0].strip() for line in Path(hook[0]).read_text().splitlines()]
    assert "set(LLAMA_BUILD_COMMON OFF)" in code


def test_the_wheel_cache_is_shared_by_clones_and_follows_the_lean_file(repo_root, tmp_path):
    """A second clone elsewhere finds the first one's wheel (the clone's path is not in the cache's
    name), a change to cmake/llama-lean.cmake builds anew, and LLAMA_CACHE moves the cache."""
    clone = tmp_path / "clone"
    (clone / "cmake").mkdir(parents=True)
    shutil.copy(repo_root / "Makefile", clone / "Makefile")
    shutil.copy(repo_root / "cmake" / "llama-lean.cmake", clone / "cmake" / "llama-lean.cmake")
    here = _make_var(repo_root, "LLAMA_WHEELS")
    assert _make_var(clone, "LLAMA_WHEELS") == here
    assert str(clone) in _make_var(clone, "LLAMA_CMAKE_ARGS")  # the hook is the clone's own file
    with (clone / "cmake" / "llama-lean.cmake").open("a") as fh:
        fh.write("# changed\n")
    assert _make_var(clone, "LLAMA_WHEELS") != here
    moved = _make_var(repo_root, "LLAMA_WHEELS", f"LLAMA_CACHE={tmp_path / 'cache'}")
    assert moved == f"{tmp_path / 'cache'}/{here.rsplit('/', 1)[1]}"


def test_setup_fetches_the_models_while_llama_cpp_builds(repo_root):
    """The llama.cpp build and the other installs plus `rag models fetch` are two jobs of one
    `make -j2`; the second installs every dependency but llama-cpp-python, which is installed last."""
    setup = _recipe(repo_root, _make_var(repo_root, "STAMP"))
    parallel = next(line for line in setup.splitlines() if "$(MAKE)" in line)
    assert "-j2" in parallel.split() and {"llama-wheel", "python-deps"} <= set(parallel.split())
    later = setup.split(parallel, 1)[1]
    assert "llama_cpp_python-$(LLAMA_VERSION)-*.whl" in later and '-e ".[test]"' in later
    deps = _recipe(repo_root, "python-deps")
    assert 'not r.startswith("llama-cpp-python")' in deps
    assert deps.index("--no-deps -e .") < deps.index("rag models fetch")


def test_every_slow_test_conftest_names_exists(repo_root):
    """`pytest -m "not slow"` stays fast only while tests/conftest.py names real modules and tests."""
    import ast

    from conftest import SLOW_MODULES, SLOW_TESTS

    tests = repo_root / "tests"
    for module in SLOW_MODULES:
        assert (tests / module).is_file(), module
    for name in SLOW_TESTS:
        module, test = name.split("::")
        tree = ast.parse((tests / module).read_text(encoding="utf-8"))
        assert test in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, name
