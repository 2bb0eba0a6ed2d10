"""What minigan asks of CuPy, checked without a GPU (CI installs cupy-cuda12x and NVRTC):

- the extras' version floor is a CuPy that has every name the shared code calls;
- every ``xp.<name>`` (and ``cupy.<name>``) in minigan/ exists in the installed CuPy;
- NVRTC compiles every kernel through CuPy's own compile path, with the exact source,
  options and name expressions that ``minigan.cuda`` uses, for compute capability 8.0 and
  9.0, and resolves every name expression to a kernel of the cubin.
"""
import re
import types
from pathlib import Path

import pytest

from minigan import cuda

ROOT = Path(__file__).resolve().parents[1]
cupy = pytest.importorskip("cupy", reason="CuPy is not installed (CI installs cupy-cuda12x)")

# NOTE: cupy.put_along_axis (MaxMin's forward) arrived in CuPy 14.0; 13.6 lacks it
FLOOR = (14, 0)


def test_the_extras_ask_for_a_cupy_with_every_name():
    extras = re.findall(r'"(cupy-cuda\d+x)>=([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert sorted(name for name, _ in extras) == ["cupy-cuda12x", "cupy-cuda13x"]
    for name, version in extras:
        floor = tuple(int(v) for v in version.split(".")) + (0,)
        assert floor[:2] >= FLOOR, f"{name}>={version} admits a CuPy without put_along_axis"
    installed = tuple(int(v) for v in cupy.__version__.split(".")[:2])
    assert installed >= FLOOR


# xp.name, self.xp(x).name, get_array_module(a).name, cupy.name, backend.cupy.name
_CALLS = re.compile(r"(?:\bxp|\bxp\([^()]*\)|get_array_module\([^()]*\)|\bcupy)"
                    r"((?:\.[A-Za-z_]\w*)+)")


def array_module_names():
    found = set()
    for path in sorted((ROOT / "minigan").rglob("*.py")):
        for chain in _CALLS.findall(path.read_text()):
            found.add((chain.lstrip("."), path.relative_to(ROOT).as_posix()))
    return sorted(found)


def test_every_name_the_shared_code_calls_exists_in_cupy():
    names = array_module_names()
    assert len(names) > 40, f"the scan found only {len(names)} names: is the pattern stale?"
    missing = []
    for chain, where in names:
        obj = cupy
        for part in chain.split("."):
            if not hasattr(obj, part):
                missing.append(f"cupy.{chain} ({where})")
                break
            obj = getattr(obj, part)
    assert not missing, "not in CuPy " + cupy.__version__ + ": " + ", ".join(missing)


@pytest.fixture
def nvrtc_only(monkeypatch):
    """CuPy's compile path up to the cubin, with the architecture given instead of asked of
    a driver, and the loaded module kept instead of sent to one: what it compiled."""
    compiler = pytest.importorskip("cupy.cuda.compiler")
    try:
        compiler._get_nvrtc_version()
    except Exception as e:
        pytest.skip(f"NVRTC cannot load (pip install nvidia-cuda-nvrtc-cu12): {e}")
    loaded = []

    class Module:   # stands in for cupy.cuda.function.Module, whose load() needs a driver
        def load(self, cubin):
            self.cubin = cubin
            loaded.append(self)

        def _set_mapping(self, mapping):
            self.mapping = mapping

    def use(arch):
        monkeypatch.setattr(compiler, "_get_arch", lambda: arch)
        monkeypatch.setattr(compiler, "_get_arch_for_options_for_nvrtc",
                            lambda arch=arch: (f"-arch=sm_{arch}", "cubin"))
        monkeypatch.setattr(compiler, "function", types.SimpleNamespace(Module=Module))
        monkeypatch.setenv("CUPY_CACHE_IN_MEMORY", "1")   # compile, never read a cache
        return loaded
    return use


@pytest.mark.parametrize("arch", ["80", "90"])
@pytest.mark.parametrize("file", cuda.kernel_files())
def test_nvrtc_compiles_every_kernel_as_minigan_asks(nvrtc_only, file, arch):
    loaded = nvrtc_only(arch)
    names = cuda.name_expressions(file)
    # what RawModule(code, options, name_expressions).get_function does first (cupy/_core/raw.pyx)
    try:
        cupy._core.core.compile_with_cache(
            cuda.source(file), cuda.options(file), prepend_cupy_headers=False, backend="nvrtc",
            name_expressions=names, jitify=False)
    except TypeError as e:   # the stand-in Module handed back where CuPy's own is typed
        assert "Module" in str(e), e
    (module,) = loaded
    assert module.cubin[:4] == b"\x7fELF"
    assert sorted(module.mapping) == sorted(names)
    for name, lowered in module.mapping.items():
        kernel = name.split("<")[0]
        assert kernel in lowered and lowered.encode() in module.cubin, (name, lowered)
