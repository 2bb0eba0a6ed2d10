"""The rot checks of docs/build.py and docs/checks.py can fail: each meets a page planted
with the fault it looks for, and a page without it."""
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

import build  # noqa: E402  (docs/build.py)
import checks  # noqa: E402  (docs/checks.py)
import outputs  # noqa: E402  (docs/outputs.py)

TABLE = """\
one step, batch 64, on cpu:
op                      calls  forward ms  backward ms  total ms  share
Conv2d                      9       45.53        80.06    125.59  43.3%
Adam.step                   2           -            -      5.10   1.8%
Add                         1        0.43         0.00      0.43   0.1%
total                                                     290.37   100%"""


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- output blocks ----

def test_other_times_shares_and_row_order_print_the_same():
    other = (TABLE.replace("45.53", "5.1").replace("125.59", "95.00").replace("43.3%", "9.0%")
             .replace("290.37", "1290.37"))
    rows = other.splitlines()
    reordered = "\n".join(rows[:2] + [rows[3], rows[2]] + rows[4:])
    assert outputs.output_difference(TABLE, other) == ""
    assert outputs.output_difference(TABLE, reordered) == ""


@pytest.mark.parametrize("old, new", [
    ("Add                         1", "Clone                       1"),   # an op name
    ("Add                         1", "Add                        11"),   # a count of calls
    ("Conv2d                      9", "Conv2d                     10"),
    ("batch 64", "batch 32"),
    ("           -            -", "        0.10            -"),          # a phase that ran
])
def test_another_op_or_count_is_a_difference(old, new):
    assert old in TABLE
    assert outputs.output_difference(TABLE, TABLE.replace(old, new)) != ""
    extra = TABLE + "\nClone                       1        0.01            -      0.01   0.0%"
    assert outputs.output_difference(TABLE, extra) != ""


def block(name, text):
    return f"intro\n\n<!-- output {name} -->\n```text\n{text}\n```\n<!-- /output -->\n\nafter\n"


def test_a_block_that_a_run_contradicts_is_stale_and_a_refresh_rewrites_it(tmp_path):
    outputs = {"table": lambda: TABLE}
    fresh = write(tmp_path, "page.md", block("table", TABLE.replace("45.53", "46.00")))
    assert build.stale_outputs(fresh, outputs) == []
    assert build.refresh_outputs(fresh.read_text(), outputs) == fresh.read_text()  # untouched
    wrong = write(tmp_path, "wrong.md", block("table", TABLE.replace("Add    ", "Clone  ")))
    assert [name for name, _ in build.stale_outputs(wrong, outputs)] == ["table"]
    empty = write(tmp_path, "empty.md", "<!-- output table -->\n<!-- /output -->\n")
    assert [name for name, _ in build.stale_outputs(empty, outputs)] == ["table"]
    assert build.refresh_outputs(empty.read_text(), outputs) == (
        f"<!-- output table -->\n```text\n{TABLE}\n```\n<!-- /output -->\n")


def test_an_output_of_no_known_name_is_an_error(tmp_path):
    page = write(tmp_path, "page.md", block("no_such_output", TABLE))
    with pytest.raises(build.OutputError):
        build.stale_outputs(page, {"table": lambda: TABLE})


def test_the_profile_output_is_the_examples_table():
    here = ROOT / "dcgan_d_step.dot"   # where the example, run at the root, writes it
    before = here.exists() and here.stat().st_mtime_ns
    text = outputs.profile_table()
    assert text.startswith("one dcgan28 training step, batch 64")
    assert "op                      calls  forward ms" in text and "\nConv2d " in text
    assert (here.exists() and here.stat().st_mtime_ns) == before   # it wrote elsewhere


# ---- links ----

GOOD_LINKS = """# A page

## The weight gradient, as a node

See [page 2](02-two.md#a-headings-slug-β_x) and [its code](../code.py),
[here](#the-weight-gradient-as-a-node), ![a picture](images/p.png), and
[the web](https://example.com/missing.md). `[page 9](02-two.md)` is code, not a link.

```text
[page 7](no-such-file.md)
```
"""


def link_folder(tmp_path):
    docs = tmp_path / "docs"
    write(docs, "02-two.md", "# Two\n\n## A heading's slug: β_x!\n")
    write(docs, "images/p.png", "png")
    write(tmp_path, "code.py", "")
    return docs


def test_links_that_resolve_pass(tmp_path):
    docs = link_folder(tmp_path)
    assert checks.bad_links(write(docs, "01-one.md", GOOD_LINKS), root=tmp_path) == []


@pytest.mark.parametrize("bad, says", [
    ("[page 2](02-two.md#a-headings-slug)", "no heading"),
    ("[page 2](02-too.md)", "no file"),
    ("[page 3](02-two.md)", "not page 3"),
    ("![a picture](images/missing.png)", "image images/missing.png"),
    ("[here](#no-such-heading)", "no heading"),
    ("[its code](../cod.py)", "no file"),
    ("[page 3's heading](02-two.md#two)", "not page 3"),     # a text that starts "page N"
])
def test_a_broken_link_is_named(tmp_path, bad, says):
    docs = link_folder(tmp_path)
    page = write(docs, "01-one.md", GOOD_LINKS + f"\nAnd {bad}.\n")
    problems = checks.bad_links(page, root=tmp_path)
    assert len(problems) == 1 and says in problems[0], problems


def test_the_readmes_links_into_docs_are_checked_and_no_others(tmp_path):
    docs = link_folder(tmp_path)
    good = "[The tour](docs/02-two.md#two) and [a script](scripts/not_checked_here.py)\n"
    readme = write(tmp_path, "README.md", good)
    assert checks.bad_links(readme, root=tmp_path, under=docs) == []
    readme.write_text(good + "[Page two](docs/02-two.md#no-such-heading), ![x](docs/x.png)\n")
    assert len(checks.bad_links(readme, root=tmp_path, under=docs)) == 2


def test_githubs_slugs():
    assert checks.slug("The weight gradient, as a node") == "the-weight-gradient-as-a-node"
    assert checks.slug("`sum_to`: broadcasting undone once") == "sum_to-broadcasting-undone-once"
    assert checks.slug("BatchNorm's x̂ and σ²") == "batchnorms-x̂-and-σ²"
    assert checks.slug("[page 6](06-b.md) and  more") == "page-6-and--more"
    assert checks.anchors("# A\n## Try it\n## Try it\n") == {"a", "try-it", "try-it-1"}


# ---- page numbers ----

NUMBERED = """# A page

As [page 2](02-two.md) says, and [page 2's heading](02-two.md#two) too; pages 0 to 9
end with exercises, pages 3-7 with tests. `page 2` is code.

```text
see page 4
```
"""


def test_page_numbers_written_as_links_pass(tmp_path):
    docs = link_folder(tmp_path)
    page = write(docs, "01-one.md", NUMBERED)
    assert checks.bare_page_numbers(page) == []
    assert checks.bad_links(page, root=tmp_path) == []


@pytest.mark.parametrize("bad, says", [
    ("as page 3 says", "'page 3'"),
    ("Page 7b has the movers", "'Page 7b'"),
    ("pages 3 and 7", "'pages 3'"),
    ("the last words of page\n3 wrap", "'page 3'"),                # the number on the next line
    ("[the conv of page 7](02-two.md)", "'page 7'"),               # a link's text, not its start
])
def test_a_bare_page_number_is_named(tmp_path, bad, says):
    docs = link_folder(tmp_path)
    page = write(docs, "01-one.md", NUMBERED + f"\nAnd {bad}.\n")
    problems = checks.bare_page_numbers(page)
    line = len(NUMBERED.splitlines()) + 2
    assert len(problems) == 1 and problems[0].startswith(f"line {line}: {says} is a bare"), \
        problems


# ---- fences ----

@pytest.mark.parametrize("text", [
    "```python\nx = 1\n```\n",
    "````markdown\n```python\nx = 1\n```\n````\n",    # a longer fence holds a shorter one
    "~~~text\n```python\nx = 1\n```\n~~~\n",          # so does the other character
    "<details><summary>Solution</summary>\n\n```pycon\n>>> 1\n1\n```\n\n</details>\n",
])
def test_fences_that_close_pass(tmp_path, text):
    assert checks.fence_problems(write(tmp_path, "page.md", text)) == []


@pytest.mark.parametrize("text, says", [
    ("```text\nsee:\n```python\nx = 1\n```\n```\n", "opens inside"),   # docs/README.md's bug
    ("```text\nx\n", "never closes"),
    ("````text\nx\n```\n", "never closes"),                     # a shorter run closes nothing
    ("```python\nx\n~~~\n", "never closes"),                    # nor another character
    ("<details><summary>Solution</summary>\n```pycon\n>>> 1\n1\n```\n\n</details>\n",
     "blank line after"),
    ("<details><summary>Solution</summary>\n\n```pycon\n>>> 1\n1\n```\n</details>\n",
     "blank line before"),
])
def test_a_fence_that_nests_or_never_closes_is_named(tmp_path, text, says):
    problems = checks.fence_problems(write(tmp_path, "page.md", text))
    assert problems and says in problems[0], problems


FOLDS = ("<details><summary>On the GPU</summary>\n\nWrite `<details>` to fold.\n\n</details>\n\n"
         "<details open><summary>More</summary>\n\ntext\n\n</details>\n")


def test_folds_that_close_pass(tmp_path):
    assert checks.fence_problems(write(tmp_path, "page.md", FOLDS)) == []


@pytest.mark.parametrize("text, says", [
    (FOLDS + "\n<details><summary>Solution</summary>\n\n1\n", "line 13: a <details> that never"),
    (FOLDS.replace("\n\n</details>\n\n<details open>", "\n\n<details open>", 1),
     "line 1: a <details> that never closes"),                  # the first left open is named
    (FOLDS + "\nthe end\n\n</details>\n", "line 15: a </details> that closes no"),
])
def test_a_fold_that_never_closes_or_closes_none_is_named(tmp_path, text, says):
    problems = checks.fence_problems(write(tmp_path, "page.md", text))
    assert len(problems) == 1 and problems[0].startswith(says), problems


# ---- example blocks a reader may paste alone ----

def test_blocks_that_import_what_they_use_pass(tmp_path):
    page = write(tmp_path, "01-one.md", "```pycon\n>>> import numpy as np\n>>> x = np.ones(2)\n"
                 "```\n\n```pycon\n>>> import minigan\n>>> minigan.tensor(x).shape\n(2,)\n```\n")
    assert checks.unimported_modules(page) == []   # x comes from the block before: allowed


@pytest.mark.parametrize("block, says", [
    (">>> import numpy as np\n>>> np.ones(2)\n```\n\n```pycon\n>>> np.zeros(2)\n", "np"),
    (">>> y = minigan.tensor([1.0])\n", "minigan"),
    (">>> import minigan\n>>> F.relu(minigan.ones(1))\n", "F"),
    (">>> for i in range(2):\n...     math.exp(i)\n", "math"),
])
def test_a_block_that_uses_a_module_it_does_not_import_is_named(tmp_path, block, says):
    page = write(tmp_path, "01-one.md", f"Text.\n\n```pycon\n{block}```\n")
    problems = checks.unimported_modules(page)
    assert len(problems) == 1 and f"uses {says} without" in problems[0], problems


# ---- nothing has run on a GPU yet ----

@pytest.mark.parametrize("name", ["README.md", "11-the-gpu-step.md"])
def test_the_index_and_the_gpu_page_say_first_that_no_gpu_ran_it(tmp_path, name):
    said = write(tmp_path, name, f"# Title\n\n{checks.NOT_ON_A_GPU} (no GPU was lent).\n")
    assert checks.gpu_not_run(said) == []
    late = write(tmp_path, name, "# Title\n\n" + "Text.\n" * 8 + checks.NOT_ON_A_GPU + "\n")
    assert len(checks.gpu_not_run(late)) == 1
    gone = write(tmp_path, name, "# Title\n\nIt ran on an H200.\n")
    assert "not yet run on a real GPU" in checks.gpu_not_run(gone)[0]
    other = write(tmp_path, "04-linear.md", "# Title\n\nNo word of GPUs.\n")
    assert checks.gpu_not_run(other) == []


# ---- references that leave the repository ----

def test_a_page_that_stays_inside_passes(tmp_path):
    docs = link_folder(tmp_path)
    page = write(docs, "01-one.md", GOOD_LINKS + "\nThe house style says: one idea a line.\n")
    assert checks.leaving_references(page, root=tmp_path) == []


@pytest.mark.parametrize("bad", [
    "as STYLE rule 11 says", "see STYLE.md", "the step of ../shared/anchors.md",
    "in `anchors.md`", "[the anchors](../../shared/x.md)", "[it](/work/shared/x.md)",
    "[it](file:///work/x.md)",
])
def test_a_reference_out_of_the_repository_is_named(tmp_path, bad):
    docs = link_folder(tmp_path)
    page = write(docs, "01-one.md", GOOD_LINKS + f"\n{bad}\n")
    problems = checks.leaving_references(page, root=tmp_path)
    line = len(GOOD_LINKS.splitlines()) + 2
    assert problems and all(p.startswith(f"line {line}:") for p in problems), problems


# ---- title, footer, Tests, Exercises ----

EXERCISES = """## Exercises

### Double it

Write f(x) = 2x and check its gradient.

<details><summary>Solution</summary>

```pycon
>>> 2 * 1
2
```

</details>

"""
TESTS = "## Tests\n\n- `tests/test_docs.py::test_the_tour_has_its_pages`\n\n"


def tour_folder(tmp_path, middle):
    """00, 01 (``middle``) and 10, and an index; the pages in order."""
    write(tmp_path, "README.md", "# The tour\n")
    first = write(tmp_path, "00-start.md", "# Start\n\n" + EXERCISES +
                  "Next: [The middle](01-middle.md) · [Index](README.md)\n")
    mid = write(tmp_path, "01-middle.md", middle)
    last = write(tmp_path, "10-end.md", "# The end\n\n" + TESTS +
                 "Previous: [The middle](01-middle.md) · [Index](README.md)\n")
    return [first, mid, last]


MIDDLE = ("# The middle\n\nText.\n\n" + EXERCISES + TESTS +
          "Previous: [Start](00-start.md) · Next: [The end](10-end.md) · [Index](README.md)\n")


def test_pages_in_shape_pass(tmp_path):
    order = tour_folder(tmp_path, MIDDLE)
    for page in order + [tmp_path / "README.md"]:
        assert checks.navigation_problems(page, order) == [], page.name


@pytest.mark.parametrize("old, new, says", [
    ("# The middle\n", "# 1. The middle\n", "starts with a number"),
    ("# The middle\n", "The middle\n", "not a '# Title'"),
    ("Next: [The end](10-end.md)", "Next: [The End](10-end.md)", "footer"),
    ("Previous: [Start](00-start.md) · ", "", "footer"),
    ("· [Index](README.md)\n", "· [Index](README.md)\n\nmore\n", "footer"),
    ("## Tests\n", "## The tests\n", "no '## Tests'"),
    ("## Exercises\n", "## Things to try\n", "no '## Exercises'"),
    ("### Double it\n", "Double it\n", "no '### '"),
    ("<details><summary>Solution</summary>", "<details><summary>Hint</summary>", "no <details>"),
    ("```pycon\n>>> 2 * 1\n2\n```", "2 * 1 is 2", "no ```pycon"),
    (EXERCISES + TESTS, TESTS + EXERCISES, "after '## Tests'"),
])
def test_a_page_out_of_shape_is_named(tmp_path, old, new, says):
    assert old in MIDDLE
    order = tour_folder(tmp_path, MIDDLE.replace(old, new))
    problems = checks.navigation_problems(order[1], order)
    assert any(says in p for p in problems), problems


def test_the_index_needs_no_footer_and_page_10_no_exercises(tmp_path):
    order = tour_folder(tmp_path, MIDDLE)
    assert checks.navigation_problems(tmp_path / "README.md", order) == []
    assert checks.navigation_problems(order[2], order) == []
    page_00 = order[0].read_text()
    order[0].write_text(page_00.replace(EXERCISES, ""))
    assert any("Exercises" in p for p in checks.navigation_problems(order[0], order))


# ---- pictures ----

def picture_package(stale_names):
    """A stand-in for docs/pictures: pictures a.png and b.png, the ``stale_names`` stale."""
    drawn = []
    modules = [types.SimpleNamespace(IMAGE=f"{name}.png") for name in "ab"]
    package = types.SimpleNamespace(
        pictures=lambda: modules, stale=lambda m: m.IMAGE[0] in stale_names and m not in drawn,
        redraw=drawn.append)
    return package, drawn


def test_a_stale_picture_is_named_and_redrawn():
    package, drawn = picture_package("b")
    assert build.stale_pictures(package) == ["images/b.png"]
    assert build.redraw_pictures(package) == [("images/b.png", None)]
    assert [m.IMAGE for m in drawn] == ["b.png"] and build.stale_pictures(package) == []
    fresh, _ = picture_package("")
    assert build.stale_pictures(fresh) == [] and build.redraw_pictures(fresh) == []


def test_the_check_reads_docs_pictures():
    """(Whether each picture is fresh: tests/test_pictures.py::test_every_picture_is_fresh.)"""
    scripts = (ROOT / "docs" / "pictures").glob("*.py")
    images = sorted(f"{s.stem}.png" for s in scripts if not s.stem.startswith("_"))
    assert sorted(m.IMAGE for m in build.picture_package().pictures()) == images


def test_without_docs_pictures_the_check_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(build, "DOCS", tmp_path)
    with pytest.raises(build.PictureError, match="docs/pictures/__init__.py is missing"):
        build.stale_pictures()


# ---- the command ----

def test_check_prints_page_and_problem_and_exits_1(monkeypatch, tmp_path, capsys):
    docs = tmp_path / "docs"
    write(docs, "README.md", "# The tour\n\n```text\n```python\nx\n```\n```\n")
    write(tmp_path, "README.md", "# minigan\n")
    monkeypatch.setattr(build, "DOCS", docs)
    monkeypatch.setattr(build, "ROOT", tmp_path)
    monkeypatch.setattr(build, "stale_pictures", lambda: [])
    monkeypatch.setattr(sys, "argv", ["build.py", "--check"])
    assert build.main() == 1
    assert "README.md: line 4: a fence '```python' opens inside" in capsys.readouterr().out
    write(docs, "README.md", f"# The tour\n\n{checks.NOT_ON_A_GPU}.\n\n```text\nx\n```\n")
    assert build.main() == 0
