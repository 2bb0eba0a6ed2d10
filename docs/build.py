"""Keeps the tour true to the code: quotes pulled from the source, examples run.

    python docs/build.py            # refresh quotes, printed output and pictures
    python docs/build.py --check    # fail if any is stale, a name gone, an example wrong,
                                    # a link, a fence or a page's shape broken

A page never holds pasted library code. It asks for it:

    <!-- quote minigan/ops/normalization.py BatchNormGrad.forward -->
    <!-- /quote -->

and this script writes, between the two lines, a link to the file and the code of
``BatchNormGrad.forward`` as the source has it now. What may follow the path:

    Name, Class.method       a Python def or class (ast), or a CUDA function (by name,
                             with the // comment just above it)
    Name#gx                  the block of Name that a "# ---- gx ----" line starts,
                             up to the next such line or the end of its indent
                             (quote the whole in "" when the block's name has a space)
    Name "text"              the one line of Name that holds "text"
    Name "from".."to"        the lines of Name from the one holding "from" to the first
                             after it holding "to"
    (header)                 the file's opening: a module docstring or leading // lines

A name, a block or a text that is no longer there is an error, so a quote cannot rot.

Runnable examples are the ```pycon blocks: doctest style, ``>>>`` and what it prints.
``tests/test_docs.py`` runs every page's examples (the blocks of a page share one
namespace, in order), checks that every quote is fresh, and that every test a page
names (``tests/test_kernels.py::test_batch_norm_training_kernels``) exists.

Printed output is generated too. A page asks for what a program prints:

    <!-- output profile -->
    <!-- /output -->

and this script runs the program that ``OUTPUTS`` names for it and writes what it printed
in a ```text block between the lines. The check runs it again and compares, its varying
numbers masked (times, percentages, decimals: ``masked`` in docs/outputs.py), its words and whole numbers
(op names, call counts) exactly; so a refresh rewrites a block only when that differs.

The pictures in docs/images/ are drawn by the scripts in docs/pictures/ (its
``__init__.py`` says how); this script redraws the stale ones and the check names them.
The prose is checked by docs/checks.py: links and anchors, page numbers written as links,
fences and folds, references that leave the repository, and each page's title, footer,
Tests and Exercises.
"""
import argparse
import ast
import doctest
import importlib
import io
import re
import shlex
import sys
import textwrap
from pathlib import Path

import checks
import outputs
from outputs import OutputError

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

QUOTE = re.compile(r"^<!-- quote (?P<spec>.+?) -->\n(?P<body>.*?)^<!-- /quote -->$",
                   re.MULTILINE | re.DOTALL)
PYCON = checks.PYCON   # the ```pycon blocks: the examples that run as doctests
TEST_NAME = re.compile(r"`(?P<file>tests/[\w/]+\.py)::(?P<name>\w+)(?:\[[^\]`]*\])?`")
LANGUAGE = {".py": "python", ".cu": "cuda", ".cuh": "cuda"}


class QuoteError(Exception):
    """A quote that cannot be made: the file, the name, the block or the text is gone."""


def pages():
    """Every page of the tour: docs/*.md, in name order."""
    return sorted(DOCS.glob("*.md"))


# ---- finding the lines of a name ----

def python_lines(lines, path, name):
    """(first, last) line index of a def or class ``Name`` or ``Class.method``."""
    body = ast.parse("".join(lines)).body
    node = None
    for part in name.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            raise QuoteError(f"{path}: no def or class named {name!r}")
        body = node.body
    first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    return first, node.end_lineno - 1


def cuda_lines(lines, path, name):
    """(first, last) line index of the CUDA function ``name``: its template line and the
    // comment just above it, through its closing brace."""
    start = next((i for i, line in enumerate(lines)
                  if re.search(rf"\b{re.escape(name)}\s*\(", line)
                  and re.match(r"\s*(template|__global__|__device__|[\w:<>]+\s+\w+\s*\()", line)),
                 None)
    if start is None:
        raise QuoteError(f"{path}: no CUDA function named {name!r}")
    depth, end = 0, None
    for i in range(start, len(lines)):
        depth += lines[i].count("{") - lines[i].count("}")
        if "{" in "".join(lines[start:i + 1]) and depth == 0:
            end = i
            break
    if end is None:
        raise QuoteError(f"{path}: the body of {name!r} never closes")
    first = start
    if first > 0 and lines[first - 1].lstrip().startswith("template"):
        first -= 1
    while first > 0 and lines[first - 1].lstrip().startswith("//"):
        first -= 1
    return first, end


def header_lines(lines, path):
    """(first, last) line index of the file's opening: its docstring or its // lines."""
    if path.suffix == ".py":
        tree = ast.parse("".join(lines))
        doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
        if doc is None or not isinstance(doc.value, ast.Constant):
            raise QuoteError(f"{path}: no module docstring")
        return doc.lineno - 1, doc.end_lineno - 1
    last = -1
    while last + 1 < len(lines) and lines[last + 1].lstrip().startswith("//"):
        last += 1
    if last < 0:
        raise QuoteError(f"{path}: no opening // comment")
    return 0, last


def block_lines(lines, first, last, path, name, block):
    """The lines of the ``# ---- block ----`` (or ``// ---- block ----``) section."""
    marker = re.compile(r"\s*(#|//) ---- (.+?) ----\s*$")
    starts = [i for i in range(first, last + 1) if marker.match(lines[i])]
    mine = [i for i in starts if marker.match(lines[i]).group(2) == block]
    if not mine:
        raise QuoteError(f"{path}: {name} has no '---- {block} ----' block")
    begin = mine[0]
    indent = len(lines[begin]) - len(lines[begin].lstrip())
    end = next((i - 1 for i in range(begin + 1, last + 1) if i in starts or (
        lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) < indent)), last)
    while end > begin and not lines[end].strip():
        end -= 1
    return begin, end


def text_lines(lines, first, last, path, name, start, stop):
    """The line of ``name`` holding ``start``, through the first one holding ``stop``."""
    begin = next((i for i in range(first, last + 1) if start in lines[i]), None)
    if begin is None:
        raise QuoteError(f"{path}: {name} has no line holding {start!r}")
    if stop is None:
        return begin, begin
    end = next((i for i in range(begin, last + 1) if stop in lines[i]), None)
    if end is None:
        raise QuoteError(f"{path}: {name} has no line holding {stop!r} after {start!r}")
    return begin, end


def _words(spec):
    """``spec`` split as a shell would, with ".." apart: [path, name, "from", "..", "to"]."""
    return shlex.split(spec.replace('"..', '" .. '))


def quote(spec):
    """The code that ``spec`` ("path Name#block" and the other forms above) names, dedented."""
    words = _words(spec)
    if len(words) < 2:
        raise QuoteError(f"quote {spec!r}: expected a path and a name")
    rel, name, rest = words[0], words[1], words[2:]
    path = ROOT / rel
    if not path.is_file():
        raise QuoteError(f"quote {spec!r}: no file {rel}")
    lines = path.read_text().splitlines(keepends=True)
    if name == "(header)":
        first, last = header_lines(lines, path)
    else:
        name, _, block = name.partition("#")
        find = python_lines if path.suffix == ".py" else cuda_lines
        first, last = find(lines, rel, name)
        if block:
            first, last = block_lines(lines, first, last, rel, name, block)
        elif rest:
            stop = rest[2] if len(rest) == 3 and rest[1] == ".." else None
            if len(rest) not in (1, 3) or (len(rest) == 3 and stop is None):
                raise QuoteError(f"quote {spec!r}: expected \"text\" or \"from\"..\"to\"")
            first, last = text_lines(lines, first, last, rel, name, rest[0], stop)
    return textwrap.dedent("".join(lines[first:last + 1])).rstrip("\n")


def render(spec):
    """What goes between a page's quote lines: a link to the file, then the code."""
    rel, name = _words(spec)[:2]
    where = f"[`{rel}`](../{rel})" + ("" if name == "(header)" else f", `{name}`")
    fence = LANGUAGE.get(Path(rel).suffix, "")
    return f"{where}\n\n```{fence}\n{quote(spec)}\n```\n"


def refresh_quotes(text):
    """The page ``text`` with every quote written anew from the source."""
    return QUOTE.sub(lambda m: f"<!-- quote {m['spec']} -->\n{render(m['spec'])}"
                               f"<!-- /quote -->", text)


# ---- printed output (docs/outputs.py) ----

# NAME of <!-- output NAME --> -> the function that prints it now
OUTPUTS = {"profile": outputs.profile_table, "profile_step": outputs.profile_step_tables}


def printed(name, registry=None):
    """What output block ``name`` holds when fresh (its program runs once a build)."""
    return outputs.printed(name, OUTPUTS if registry is None else registry)


def stale_outputs(page, registry=None):
    """(name, what differs) for each output block of the page that a run now contradicts."""
    return outputs.stale_outputs(page, OUTPUTS if registry is None else registry)


def refresh_outputs(text, registry=None):
    """The page ``text`` with each output block that a run now contradicts written anew."""
    return outputs.refresh_outputs(text, OUTPUTS if registry is None else registry)


def refresh(text, registry=None):
    """The page ``text`` with its quotes and stale output blocks written anew."""
    return refresh_outputs(refresh_quotes(text), registry)


# ---- pictures (docs/pictures/__init__.py: the protocol) ----

class PictureError(Exception):
    """The pictures cannot be checked: docs/pictures is not there or not as agreed."""


def picture_package():
    """docs/pictures, imported: pictures(), stamp(module), stale(module), redraw(module)."""
    if not (DOCS / "pictures" / "__init__.py").is_file():
        raise PictureError("docs/pictures/__init__.py is missing: it draws the pages' "
                           "pictures, and without it none can be checked or redrawn")
    if str(DOCS) not in sys.path:
        sys.path.insert(0, str(DOCS))
    package = importlib.import_module("pictures")
    missing = [f for f in ("pictures", "stale", "redraw") if not hasattr(package, f)]
    if missing:
        raise PictureError(f"docs/pictures/__init__.py has no {', '.join(missing)}")
    return package


def stale_pictures(package=None):
    """The images/NAME.png that their script would draw differently now (or that are not
    there)."""
    package = picture_package() if package is None else package
    return [f"images/{m.IMAGE}" for m in package.pictures() if package.stale(m)]


def redraw_pictures(package=None):
    """Redraw every stale picture: (images/NAME.png, None when redrawn, else why not)."""
    package = picture_package() if package is None else package
    done = []
    for m in package.pictures():
        if package.stale(m):
            try:
                package.redraw(m)
                done.append((f"images/{m.IMAGE}", None))
            except RuntimeError as e:   # its inputs are not on this machine
                done.append((f"images/{m.IMAGE}", str(e)))
    return done


# ---- the checks ----

def stale_quotes(page):
    """The specs of the page's quotes that differ from the source now."""
    text = page.read_text()
    return [m["spec"] for m in QUOTE.finditer(text) if m["body"] != render(m["spec"])]


def missing_tests(page):
    """The tests the page names (``tests/x.py::test_y``) that do not exist."""
    missing = []
    for m in TEST_NAME.finditer(page.read_text()):
        path = ROOT / m["file"]
        names = set()
        if path.is_file():
            names = {n.name for n in ast.walk(ast.parse(path.read_text()))
                     if isinstance(n, ast.FunctionDef)}
        if m["name"] not in names:
            missing.append(f"{m['file']}::{m['name']}")
    return missing


def run_examples(page):
    """(failed, tried, report) of the page's ```pycon blocks, run in order in one namespace."""
    text = page.read_text()
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    namespace = {"__name__": f"docs.{page.stem}"}
    for m in PYCON.finditer(text):
        lineno = text[:m.start("code")].count("\n")
        test = parser.get_doctest(m["code"], namespace, page.name, str(page), lineno)
        runner.run(test, out=out.write, clear_globs=False)
        namespace = test.globs   # a DocTest copies the namespace it is given: pass it on
    return runner.failures, runner.tries, out.getvalue()


def page_problems(page, order=None):
    """Every problem of ``page`` but its examples', one string each: stale quotes and
    outputs, missing tests, and the prose checks of docs/checks.py."""
    order = checks.tour(pages()) if order is None else order
    try:
        problems = [f"stale quote {spec!r}: run python docs/build.py"
                    for spec in stale_quotes(page)]
    except QuoteError as e:
        problems = [str(e)]
    try:
        problems += [f"stale output {name!r}: {diff}: run python docs/build.py"
                     for name, diff in stale_outputs(page)]
    except OutputError as e:
        problems.append(str(e))
    problems += [f"names {name}, which does not exist" for name in missing_tests(page)]
    problems += checks.bad_links(page) + checks.bare_page_numbers(page)
    problems += checks.fence_problems(page) + checks.unimported_modules(page)
    problems += checks.leaving_references(page) + checks.navigation_problems(page, order)
    problems += checks.gpu_not_run(page)
    return problems


def readme_problems():
    """The repository's README: its links into docs/ resolve, its "page N" are such links;
    nothing leaves the repository."""
    readme = ROOT / "README.md"
    return (checks.bad_links(readme, under=DOCS) + checks.bare_page_numbers(readme)
            + checks.leaving_references(readme))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true",
                   help="change nothing; fail on a stale quote, output or picture, a missing "
                        "test, a wrong example, a broken link or fence, a page out of shape")
    args = p.parse_args()
    failed = False

    def problem(where, what):
        nonlocal failed
        print(f"{where}: {what}")
        failed = True

    try:
        if args.check:
            for image in stale_pictures():
                problem(image, "stale picture: run python docs/build.py")
        for image, why in [] if args.check else redraw_pictures():
            if why:
                problem(image, f"stale, and cannot be redrawn here: {why}")
            else:
                print(f"{image}: redrawn")
    except PictureError as e:
        problem("docs/pictures", e)
    for what in readme_problems():
        problem("README.md (the repository's)", what)
    for page in pages():
        text = page.read_text()
        if not args.check:
            try:
                fresh = refresh(text)
                if fresh != text:
                    page.write_text(fresh)
                    print(f"{page.name}: quotes and outputs refreshed")
            except (QuoteError, OutputError) as e:
                problem(page.name, e)
            continue
        for what in page_problems(page):
            problem(page.name, what)
        bad, tried, report = run_examples(page)
        if bad:
            problem(page.name, report)
        print(f"{page.name}: {tried - bad}/{tried} examples pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
