"""The checks that keep the tour's prose true, beside the quotes and examples of build.py.

Each check takes a page (a Path) and returns its problems, one string each, empty when the
page is right; ``python docs/build.py --check`` prints them as "page: problem".

    bad_links(page)            every relative link and image resolves to a file; a #anchor
                               names a heading of its page; [page N](file) names page N
    bare_page_numbers(page)    every "page N" of the prose is such a link (the tour was
                               renumbered once: a bare number goes stale unseen); a range,
                               "pages N to M", may stay bare
    fence_problems(page)       fences open and close as CommonMark reads them, and no fence
                               opens inside another that its closing line would end; a
                               <summary> line and a </details> line have a blank line inside;
                               every <details> closes, and no </details> is stray
    leaving_references(page)   nothing points outside the repository: no "STYLE rule",
                               "STYLE.md", "../shared", "anchors.md", no link out of the root
    unimported_modules(page)   every ```pycon block imports the modules it uses (np,
                               minigan, F, nn, math): a reader may paste one block alone
    gpu_not_run(page)          the index and the GPU page say first that the GPU path has
                               not yet run on a real GPU (true until a GPU run is recorded)
    navigation_problems(page)  a "# Title" with no number, the footer of Previous and Next
                               in page order, "## Tests" (01 on), "## Exercises" whose
                               folded solutions run (00 to 09)

Limits: the page is read line by line, with regular expressions, not by a CommonMark
parser. So a code span that runs over two lines is prose to these checks, and a link inside
it is checked; a link inside an HTML comment is checked too; an image inside a link's text
([![alt](a.png)](b.md)) and the reference-style link [text][name] are not fully read (a
reference definition's target is checked, the use of its name is not); and ``slug`` drops
an HTML entity's characters (&amp; gives "amp") where GitHub drops the character it stands
for.
"""
import ast
import re
import unicodedata
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
INDEX = "README.md"

# a fence line: a run of 3 or more ` or ~, then the info string (CommonMark 4.5)
FENCE = re.compile(r"^[ \t]*(?P<run>`{3,}|~{3,})(?P<info>.*)$")
LINK = re.compile(r"(?P<image>!?)\[(?P<text>[^\]]*)\]\((?P<target><[^>]*>|[^)\s]+)"
                  r"(?:\s+\"[^\"]*\")?\)")
DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(?P<target>\S+)")
HTML_TARGET = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"(?P<target>[^\"]+)\"")
HEADING = re.compile(r"^ {0,3}(?P<hashes>#{1,6})[ \t]+(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")
HTML_ID = re.compile(r"<[^>]*\b(?:id|name)=\"(?P<id>[^\"]+)\"")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
PAGE_LINK = re.compile(r"^[Pp]age (?P<n>\d+[a-z]?)\b")   # the text of [page 7b](...)
# "page 7", "Pages 3", the number maybe on the next line; and after it, a range's end
PAGE_NUMBER = re.compile(r"\b[Pp]age(?P<plural>s?)[ \t]*\n?[ \t]*(?P<n>\d+[a-z]?)\b"
                         r"(?P<range>[ \t]*\n?[ \t]*(?:to|-|–)[ \t]*\n?[ \t]*\d)?")
DETAILS = re.compile(r"<(?P<close>/?)details\b[^>]*>", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
LEAVING = re.compile(r"STYLE rule|STYLE\.md|\.\./shared|anchors\.md")
PYCON = re.compile(r"^```pycon\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
MODULES = ("F", "math", "minigan", "nn", "np")   # the names the pages import modules as
SOLUTION = re.compile(r"<details>\s*<summary>\s*Solution\b[^<]*</summary>(?P<body>.*?)</details>",
                      re.DOTALL)


# ---- reading a page: its fences, the lines outside them, its headings ----

def scan_fences(text):
    """(blocks, problems): blocks are (first, last) line indexes of each fenced block, its
    fence lines included; problems are a nested or an unclosed fence. A fence closes only
    with the same character, at least as long, and no info string; inside a block, a line
    that would close it but carries an info string is a fence opened inside another
    (the block's own closing line then ends the outer block, and the page goes wrong)."""
    blocks, problems, opened = [], [], None
    for i, line in enumerate(text.splitlines()):
        m = FENCE.match(line)
        if m and m["run"][0] == "`" and "`" in m["info"]:
            m = None   # ```x``` is a code span, not a fence
        if opened is None:
            if m:
                opened = (i, m["run"][0], len(m["run"]))
            continue
        if not m or m["run"][0] != opened[1] or len(m["run"]) < opened[2]:
            continue   # content of the block
        if m["info"].strip():
            problems.append(f"line {i + 1}: a fence {line.strip()!r} opens inside the fence "
                            f"of line {opened[0] + 1}, whose closing line will end the outer "
                            f"one: close the outer fence first, or make it longer")
            continue
        blocks.append((opened[0], i))
        opened = None
    if opened is not None:
        problems.append(f"line {opened[0] + 1}: a fence that never closes")
        blocks.append((opened[0], len(text.splitlines()) - 1))
    return blocks, problems


def prose_lines(text):
    """(line number, line) of every line outside fenced blocks, code spans blanked."""
    inside = set()
    for first, last in scan_fences(text)[0]:
        inside.update(range(first, last + 1))
    return [(i + 1, CODE_SPAN.sub(lambda m: " " * len(m[0]), line))
            for i, line in enumerate(text.splitlines()) if i not in inside]


def raw_headings(text):
    """Headings as written (code spans kept), for slugs and titles."""
    inside = set()
    for first, last in scan_fences(text)[0]:
        inside.update(range(first, last + 1))
    return [(len(m["hashes"]), m["text"]) for i, line in enumerate(text.splitlines())
            if i not in inside and (m := HEADING.match(line))]


def slug(heading):
    """GitHub's anchor for a heading: its text as rendered, lowercased, with every character
    but letters, marks, numbers, "_", "-" and spaces dropped, and each space a "-"."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # a link: its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LMN")
    return kept.replace(" ", "-")


def anchors(text):
    """Every #anchor a page has: its headings' slugs (a repeated one gets -1, -2...) and
    the id or name of its HTML tags."""
    seen, found = Counter(), set()
    for _, heading in raw_headings(text):
        s = slug(heading)
        found.add(s if not seen[s] else f"{s}-{seen[s]}")
        seen[s] += 1
    found.update(m["id"] for _, line in prose_lines(text) for m in HTML_ID.finditer(line))
    return found


def links(text):
    """(line number, is an image, link text, target) of every link and image in the prose:
    Markdown inline links, reference definitions, and src/href of <img> and <a>."""
    found = []
    for n, line in prose_lines(text):
        for m in LINK.finditer(line):
            found.append((n, m["image"] == "!", m["text"], m["target"].strip("<>")))
        for m in DEFINITION.finditer(line):
            found.append((n, False, "", m["target"]))
        for m in HTML_TARGET.finditer(line):
            found.append((n, m[0].startswith("<img"), "", m["target"]))
    return found


def split_target(target):
    """(path, anchor) of a relative link, or None for a URL (http:, mailto:...)."""
    if SCHEME.match(target):
        return None
    path, _, anchor = target.partition("#")
    return unquote(path), anchor


def inside(path, root):
    """True when ``path`` resolves to ``root`` or to somewhere under it."""
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


# ---- the checks ----

def number(name):
    """The number a page's name starts with, "7b" for 07b-..., leading zeros dropped."""
    m = re.match(r"(\d+)([a-z]?)-", name)
    return None if m is None else f"{int(m[1])}{m[2]}"


def bad_links(page, root=ROOT, under=None):
    """Relative links and images of ``page`` that lead to no file, #anchors that name no
    heading of their page, and [page N](file) links whose file is not page N. With
    ``under`` (a folder), only the links into it (the repository's README into docs/).
    Links out of ``root`` are leaving_references' business."""
    problems = []
    text = page.read_text()
    for n, image, label, target in links(text):
        parts = split_target(target)
        if parts is None:
            continue
        path, anchor = parts
        dest = (page.parent / path) if path else page
        if path.startswith("/") or not inside(dest, root):
            continue
        if under is not None and not inside(dest, under):
            continue
        what = "image" if image else "link"
        if not dest.exists():
            problems.append(f"line {n}: {what} {target}: no file {path}")
            continue
        if anchor and dest.suffix == ".md" and dest.is_file() and \
                anchor not in anchors(dest.read_text()):
            problems.append(f"line {n}: link {target}: {dest.name} has no heading whose "
                            f"anchor is #{anchor}")
        m = PAGE_LINK.match(label.strip())
        if m and not image and (number(dest.name) != number(f"{m['n']}-")):
            problems.append(f"line {n}: [{label}]({target}) links to {dest.name}, which is "
                            f"not page {m['n']}")
    return problems


def fence_problems(page):
    """Fences that nest or never close, and <details> folds whose Markdown would not render
    (no blank line after the <summary> line or before </details>), that never close (on
    GitHub the fold then hides the rest of the page) or that close none."""
    text = page.read_text()
    problems = scan_fences(text)[1]
    lines = text.splitlines()
    opened = []   # the line of each <details> not closed yet
    for n, line in prose_lines(text):
        i = n - 1
        if re.search(r"</summary>\s*$", line) and i + 1 < len(lines) and lines[i + 1].strip():
            problems.append(f"line {n}: a <summary> line needs a blank line after it")
        if line.strip() == "</details>" and i > 0 and lines[i - 1].strip():
            problems.append(f"line {n}: </details> needs a blank line before it")
        for m in DETAILS.finditer(line):
            if not m["close"]:
                opened.append(n)
            elif opened:
                opened.pop()
            else:
                problems.append(f"line {n}: a </details> that closes no <details>")
    if opened:
        problems.append(f"line {opened[0]}: a <details> that never closes: the fold would "
                        f"hide the rest of the page; end it with a </details> line")
    return problems


def bare_page_numbers(page):
    """Each "page N" of the prose (code and fences left out) that is not a link's text:
    write it [page N](NN-name.md), so that bad_links checks the number. A range, "pages 3
    to 7" or "pages 3-7", may stay bare; a link whose text starts "page N" counts as one."""
    def blank(m):   # a link whose text starts "page N": blanked
        return " " * len(m[0]) if PAGE_LINK.match(m["text"].strip()) else m[0]
    numbered = [(n, LINK.sub(blank, line)) for n, line in prose_lines(page.read_text())]
    text, starts = "", []   # the prose as one text; where each line starts in it
    for k, (n, line) in enumerate(numbered):
        gap = k > 0 and n != numbered[k - 1][0] + 1   # a fence or a line left out between
        text += ("\n\n" if gap else "\n") if k else ""
        starts.append((len(text), n))
        text += line
    problems = []
    for m in PAGE_NUMBER.finditer(text):
        if m["plural"] and m["range"]:
            continue
        n = max(line for start, line in starts if start <= m.start())
        words = " ".join(m[0].split())
        problems.append(f"line {n}: {words!r} is a bare page number: make it a link, "
                        f"[page {m['n']}](NN-name.md), so that the check can keep it true")
    return problems


def unimported_modules(page):
    """Each ```pycon block that uses a module (np, minigan, F, nn, math) without importing it
    in the block. The blocks of a page run in one namespace, so the doctests pass anyway; a
    reader who pastes the block alone gets a NameError. Other names (a page's running
    example) may come from the blocks before."""
    text, problems = page.read_text(), []
    for m in PYCON.finditer(text):
        source = "\n".join(line[4:] for line in m["code"].splitlines()
                           if line.startswith((">>> ", "... ")))
        try:
            tree = ast.parse(source)
        except SyntaxError:   # the doctest reports it
            continue
        imported, used = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imported |= {a.asname or a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name) and node.id in MODULES:
                used.add(node.id)
        if used - imported:
            n = text[:m.start()].count("\n") + 1
            problems.append(f"line {n}: a pycon block uses {', '.join(sorted(used - imported))} "
                            f"without importing it; a reader may paste it alone")
    return problems


def leaving_references(page, root=ROOT):
    """Mentions of what a reader who clones the repository does not have: the house style
    file and its rules, ../shared and its anchors.md; links that resolve outside ``root``
    or are absolute paths."""
    text = page.read_text()
    problems = [f"line {i + 1}: {m[0]!r} points outside the repository: say it in the page"
                for i, line in enumerate(text.splitlines()) for m in LEAVING.finditer(line)]
    for n, _, _, target in links(text):
        if target.lower().startswith("file:"):
            problems.append(f"line {n}: link {target} is a file on one machine")
            continue
        parts = split_target(target)
        if parts is None or not parts[0]:
            continue
        if parts[0].startswith("/") or not inside(page.parent / parts[0], root):
            problems.append(f"line {n}: link {target} leads outside the repository")
    return problems


def tour(pages):
    """The pages in reading order, the index left out."""
    return [p for p in pages if p.name != INDEX]


def title(page):
    """The text of the page's first "# " heading, or None."""
    return next((t for level, t in raw_headings(page.read_text()) if level == 1), None)


def footer(page, order):
    """The footer ``page`` must end with, from its neighbours in ``order``."""
    i = order.index(page)
    parts = []
    if i > 0:
        parts.append(f"Previous: [{title(order[i - 1])}]({order[i - 1].name})")
    if i + 1 < len(order):
        parts.append(f"Next: [{title(order[i + 1])}]({order[i + 1].name})")
    return " · ".join(parts + [f"[Index]({INDEX})"])


def section(text, name):
    """The text of the "## name" section (to the next "## " heading), or None."""
    lines, start = text.splitlines(), None
    prose = {n - 1 for n, _ in prose_lines(text)}
    for i, line in enumerate(lines):
        if i not in prose:
            continue
        if start is None and re.match(rf"^## {re.escape(name)}\s*$", line):
            start = i
        elif start is not None and re.match(r"^## ", line):
            return "\n".join(lines[start:i])
    return None if start is None else "\n".join(lines[start:])


NOT_ON_A_GPU = "**The GPU path has not yet run on a real GPU**"
SAYS_NOT_ON_A_GPU = (INDEX, "11-the-gpu-step.md")


def gpu_not_run(page):
    """The index and the GPU page must say, in their first paragraph, that the GPU path has
    not yet run on a real GPU: nothing in this project has, so a reader must learn it before
    any number about a card. Remove the sentence (and this check) only with a GPU run's
    record in hand."""
    if page.name not in SAYS_NOT_ON_A_GPU:
        return []
    opening = "\n".join(page.read_text().splitlines()[:6])
    if NOT_ON_A_GPU in opening:
        return []
    return [f"the first lines do not say {NOT_ON_A_GPU}: nothing here has run on a GPU yet"]


def navigation_problems(page, order):
    """The page's shape: "# Title" first, with no number; then, but on the index, the
    footer as its last line, "## Tests" on pages 01 and after, and on pages 00 to 09 an
    "## Exercises" section, before the Tests, of "### " exercises whose folded solutions
    hold a ```pycon block (which runs as a doctest). ``order``: the tour's pages, in order."""
    text, problems = page.read_text(), []
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first.startswith("# "):
        problems.append(f"the first line is not a '# Title': {first[:60]!r}")
    elif re.match(r"#\s+(page\s+)?\d", first, re.IGNORECASE):
        problems.append(f"the title starts with a number: {first!r}")
    if page.name == INDEX:
        return problems
    order = [p.resolve() for p in order]
    if page.resolve() not in order:
        return problems + [f"not in the tour's order: {[p.name for p in order]}"]
    want = footer(page.resolve(), order)
    last = text.rstrip("\n").splitlines()[-1] if text.strip() else ""
    if last != want:
        problems.append(f"the last line should be the footer {want!r}, not {last[:80]!r}")
    n = number(page.name)
    level = int(re.match(r"\d+", n)[0]) if n else None
    tests = section(text, "Tests")
    if level is not None and level >= 1 and tests is None:
        problems.append("no '## Tests' section")
    if level is not None and level <= 9:
        exercises = section(text, "Exercises")
        if exercises is None:
            problems.append("no '## Exercises' section")
        else:
            if tests is not None and text.index(exercises) > text.index(tests):
                problems.append("'## Exercises' comes after '## Tests'")
            if not re.search(r"^### ", exercises, re.MULTILINE):
                problems.append("'## Exercises' has no '### ' exercise")
            solutions = list(SOLUTION.finditer(exercises))
            if not solutions:
                problems.append("'## Exercises' has no <details><summary>Solution</summary>")
            for m in solutions:
                if not re.search(r"^```pycon\n", m["body"], re.MULTILINE):
                    problems.append(f"a solution holds no ```pycon block to run: "
                                    f"{m['body'].strip()[:60]!r}")
    return problems
