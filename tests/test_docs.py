"""The tour (docs/) cannot rot: its examples run, its quotes and printed outputs match the
source and a run, the tests it names exist, its links, fences, pictures and shape are right;
and the checks themselves fail when they should (tests/test_docs_checks.py)."""
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

import build  # noqa: E402  (docs/build.py)

PAGES = build.pages()


def test_the_tour_has_its_pages():
    names = {p.name for p in PAGES}
    assert "README.md" in names and len(names) >= 10, sorted(names)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_the_page_is_true_to_the_code_and_in_shape(page):
    """Every check of ``python docs/build.py --check`` but the examples: quotes and printed
    outputs fresh, named tests there, links, page numbers, fences and folds, imports in
    every example block, nothing outside the repository, title, footer, Tests, Exercises."""
    assert build.page_problems(page) == []


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_examples_run_and_print_what_the_page_says(page):
    failed, tried, report = build.run_examples(page)
    assert failed == 0, report


def test_the_readmes_links_into_the_tour_resolve():
    assert build.readme_problems() == []


def test_every_page_but_the_index_has_a_runnable_example_and_a_quote():
    for page in PAGES:
        text = page.read_text()
        if page.name != "README.md":
            assert build.PYCON.search(text), f"{page.name}: no runnable example"
            assert build.QUOTE.search(text), f"{page.name}: no code quoted from the source"


def test_every_page_is_linked_from_the_index():
    index = (ROOT / "docs" / "README.md").read_text()
    for page in PAGES:
        if page.name != "README.md":
            assert f"({page.name})" in index, page.name


def test_the_readme_links_the_tour_from_its_first_screen():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:25])
    assert "(docs/README.md)" in first_screen


def test_every_kernel_names_a_numpy_reference_that_exists():
    for cu in sorted((ROOT / "kernels").glob("*.cu")):
        opening = cu.read_text()[:600]
        paths = re.findall(r"minigan/[\w/]+\.py", opening)
        assert paths, f"{cu.name} names no NumPy reference"
        for path in paths:
            assert (ROOT / path).is_file(), f"{cu.name} names {path}, which does not exist"


# ---- the checks can fail ----

def page_with(tmp_path, text):
    page = tmp_path / "page.md"
    page.write_text(text)
    return page


def test_a_quote_that_differs_from_the_source_is_stale(tmp_path):
    spec = "minigan/ops/activation.py LeakyReLUGrad.backward"
    fresh = f"<!-- quote {spec} -->\n{build.render(spec)}<!-- /quote -->\n"
    assert build.stale_quotes(page_with(tmp_path, fresh)) == []
    edited = fresh.replace("LeakyReLUGrad(self.slope)(x, ggx)", "LeakyReLUGrad(self.slope)(x, x)")
    assert build.stale_quotes(page_with(tmp_path, edited)) == [spec]


@pytest.mark.parametrize("spec", [
    "minigan/ops/activation.py NoSuchOp",
    "minigan/ops/activation.py LeakyReLU.no_such_method",
    "minigan/ops/normalization.py _double_backward#no such block",
    'minigan/ops/activation.py LeakyReLU "no such text"',
    "kernels/leaky_relu.cu no_such_kernel",
    "minigan/no_such_file.py Name",
])
def test_a_quote_of_something_gone_is_an_error(spec):
    with pytest.raises(build.QuoteError):
        build.quote(spec)


def test_quotes_pick_what_they_name():
    assert build.quote("minigan/ops/activation.py LeakyReLUGrad.backward").startswith(
        "def backward(self, ggx):")
    kernel = build.quote("kernels/leaky_relu.cu leaky_relu_backward_x")
    assert kernel.startswith("template <typename T>") and kernel.endswith("}")
    assert "leaky_relu_forward" not in kernel
    line = build.quote('minigan/ops/activation.py LeakyReLU "return LeakyReLUGrad"')
    assert line == "return LeakyReLUGrad(self.slope)(x, gy)"
    inner = build.quote("minigan/ops/normalization.py BatchNormGrad.forward#gx")
    assert inner.splitlines()[0] == "# ---- gx ----" and len(inner.splitlines()) == 2  # its indent
    block = build.quote("minigan/ops/normalization.py _double_backward#g(γ)")
    assert block.startswith("# ---- g(γ) ----") and "g(x)" not in block


def test_a_wrong_example_fails_and_a_missing_test_is_named(tmp_path):
    page = page_with(tmp_path, "```pycon\n>>> 1 + 1\n3\n```\n\n"
                               "`tests/test_docs.py::test_no_such_test`\n")
    failed, tried, _ = build.run_examples(page)
    assert (failed, tried) == (1, 1)
    assert build.missing_tests(page) == ["tests/test_docs.py::test_no_such_test"]
