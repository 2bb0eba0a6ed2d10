"""Output blocks: what a program prints, written into a page by build.py and checked.

    <!-- output profile -->
    <!-- /output -->

``OUTPUTS`` in build.py maps the name to a function here that runs the program and returns
its text (each function below takes that registry as ``outputs``);
``python docs/build.py`` writes it between the lines in a ```text block. A run prints other
times on every machine and every run, so ``masked`` hides what varies (decimals,
percentages, times with their unit) and sorts the lines (a table sorted by time orders its
rows by the run); words and whole numbers (op names, call counts) must match exactly.
A refresh rewrites a block only where a run now differs beyond that.
"""
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = re.compile(r"^<!-- output (?P<name>\S+) -->\n(?P<body>.*?)^<!-- /output -->$",
                    re.MULTILINE | re.DOTALL)


class OutputError(Exception):
    """An output block that cannot be made: no such name, or its program failed."""


def profile_table():
    """The profile of one dcgan28 training step, as ``python examples/graph_picture.py
    --profile`` prints it (prof.table() under a line that names the step). Its picture
    goes to a folder that is removed after."""
    with tempfile.TemporaryDirectory() as out:
        text = run_program("examples/graph_picture.py", "--profile", "--out", out)
    start = text.find("one dcgan28 training step")
    if start < 0:
        raise OutputError(f"examples/graph_picture.py --profile printed no profile:\n{text}")
    return text[start:]


def run_program(*args):
    """What ``python *args`` prints, run from the repository's root."""
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise OutputError(f"python {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def profile_step_tables():
    """What ``python benchmarks/profile_step.py --case dcgan28 --steps 3 --warmup 2``
    prints, less its first line (the machine's cores, NumPy version and load). Three steps,
    so that its times are a mean and a median of more than one; the run takes about 2 s
    (measured 2026-12-05 on the 2-core build machine: 1.8 s, against 1.3 s for one step)."""
    text = run_program("benchmarks/profile_step.py", "--case", "dcgan28", "--steps", "3",
                       "--warmup", "2")
    return "\n".join(line for line in text.splitlines() if not line.startswith("CPU:"))


_printed = {}   # function -> its text, so that a build runs each program once


def printed(name, outputs):
    """What output block ``name`` holds when fresh: its program's text (run once a build)."""
    if name not in outputs:
        raise OutputError(f"output {name!r}: no such output; build.py knows {sorted(outputs)}")
    fn = outputs[name]
    if fn not in _printed:
        _printed[fn] = fn().strip("\n")
    return _printed[fn]


def output_block(text):
    """What goes between a page's output lines."""
    return f"```text\n{text}\n```\n"


# a number that moves from run to run: a decimal, a percentage, a time with its unit
VARYING = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:%|(?=\s*(?:ms|µs|us|s)\b))"
                     r"|(?<![\w.])[-+]?\d+\.\d+(?![\w.])")


def masked(text):
    """The lines of ``text`` with each varying number as "#" and runs of spaces as one,
    sorted (a table sorted by time may order its rows differently on each run). Words and
    whole numbers, such as op names and call counts, stay as they are."""
    lines = (" ".join(VARYING.sub("#", line).split()) for line in text.splitlines())
    return sorted(line for line in lines if line)


def output_difference(old, new):
    """"" when ``old`` and ``new`` print the same but for varying numbers, else what differs."""
    a, b = Counter(masked(old)), Counter(masked(new))
    if a == b:
        return ""
    only_old, only_new = sorted((a - b).elements()), sorted((b - a).elements())
    return f"only on the page: {only_old}; only in a run now: {only_new}"


def stale_outputs(page, outputs):
    """(name, what differs) for each output block of the page that a run now contradicts."""
    stale = []
    for m in OUTPUT.finditer(page.read_text()):
        body = re.fullmatch(r"```text\n(?P<text>.*?)\n?```\n?", m["body"], re.DOTALL)
        if body is None:
            stale.append((m["name"], "its body is not one ```text block"))
            continue
        diff = output_difference(body["text"], printed(m["name"], outputs))
        if diff:
            stale.append((m["name"], diff))
    return stale


def refresh_outputs(text, outputs):
    """The page ``text`` with each output block that a run now contradicts written anew."""
    def fresh(m):
        body = re.fullmatch(r"```text\n(?P<text>.*?)\n?```\n?", m["body"], re.DOTALL)
        new = printed(m["name"], outputs)
        if body is not None and not output_difference(body["text"], new):
            return m[0]
        return f"<!-- output {m['name']} -->\n{output_block(new)}<!-- /output -->"
    return OUTPUT.sub(fresh, text)
