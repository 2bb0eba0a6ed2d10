"""The pictures of the tour, each drawn by a script of its own, kept as fresh as the quotes.

    python docs/pictures/im2col.py          # redraw one picture
    python docs/build.py                    # redraw every stale picture
    python docs/build.py --check            # fail if a picture is stale

Each ``docs/pictures/<name>.py`` defines

    IMAGE = "<name>.png"                    # written to docs/images/
    def source() -> str | None              # everything the picture shows, as text,
                                            # computed from minigan as it is now
    def draw(source) -> PIL.Image.Image     # the picture of that text

``source()`` returns None where its inputs are not on this machine. The PNG carries a
stamp in its text chunk "minigan-stamp": ``script=<sha256 of the script>;source=<sha256
of source(), or none>``. A picture is stale when its PNG is missing or its stamp differs
from the one the script and minigan give now (only the script part, where source() is
None). So checking never draws: it needs neither Graphviz nor a display, only minigan.
"""
import hashlib
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGES = HERE.parent / "images"
ROOT = HERE.parents[1]
KEY = "minigan-stamp"


def _importable():
    """Make ``import minigan`` and ``import pictures.x`` work from any working directory."""
    for path in (str(ROOT), str(HERE.parent)):
        if path not in sys.path:
            sys.path.insert(0, path)


def pictures():
    """Every picture script (as a module), in name order."""
    _importable()
    return [importlib.import_module(f"{__name__}.{path.stem}")
            for path in sorted(HERE.glob("*.py")) if not path.stem.startswith("_")]


def _sha(text):
    """The sha256 of ``text`` (UTF-8), in hex: one half of a stamp."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _script_sha(module):
    return _sha(Path(module.__file__).read_text(encoding="utf-8"))


def stamp(module, source=None):
    """``script=<sha>;source=<sha or none>``: what the picture was drawn from.
    ``source`` is module.source() when not given."""
    if source is None:
        source = module.source()
    return f"script={_script_sha(module)};source={'none' if source is None else _sha(source)}"


def path(module):
    """Where the module's picture lives: docs/images/<IMAGE>."""
    return IMAGES / module.IMAGE


def read_stamp(module):
    """The stamp in the PNG's text chunk, or None if the PNG or its stamp is missing."""
    from PIL import Image
    try:
        with Image.open(path(module)) as image:
            return image.text.get(KEY)
    except (FileNotFoundError, OSError):
        return None


def stale(module):
    """True when the PNG is missing or was drawn from another script or another source."""
    old = read_stamp(module)
    if old is None:
        return True
    new = stamp(module)
    if new.endswith(";source=none"):   # inputs not here: judge the script alone
        return old.split(";")[0] != new.split(";")[0]
    return old != new


def redraw(module):
    """Draw the picture from source() and save it with its stamp; returns the path."""
    from PIL.PngImagePlugin import PngInfo
    source = module.source()
    if source is None:
        raise RuntimeError(f"{module.IMAGE}: its inputs are not on this machine, "
                           "so it cannot be redrawn here")
    image = module.draw(source)
    info = PngInfo()
    info.add_text(KEY, stamp(module, source))
    IMAGES.mkdir(exist_ok=True)
    image.save(path(module), pnginfo=info, optimize=True)
    return path(module)


def main(module):
    """What ``python docs/pictures/<name>.py`` does: redraw the picture, say where."""
    print(redraw(module).relative_to(ROOT))


# ---- what the scripts share: a font, the Graphviz call, a small PNG ----

def diagram(image):
    """A drawing of few colours, as a palette image: the PNG is a third of the size.
    (Not for photographs: 128 colours would show.)"""
    return image.convert("RGB").quantize(colors=128)


def font(size=14):
    """Pillow's own font at ``size`` pixels (Pillow >= 10.1), else its small bitmap font."""
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:   # older Pillow: one size only
        return ImageFont.load_default()


def dot_png(dot_text):
    """Run Graphviz ``dot -Tpng`` on DOT text; the picture as a PIL image. No ``dot``, or
    a ``dot`` that fails, is a RuntimeError (what build.py's redraw reports)."""
    import io
    import subprocess
    from PIL import Image
    try:
        png = subprocess.run(["dot", "-Tpng", "-Gdpi=96"], input=dot_text.encode("utf-8"),
                             capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise RuntimeError("Graphviz is not installed (the dot program): install it "
                           "(apt-get install graphviz) to redraw this picture") from None
    except subprocess.CalledProcessError as e:
        stderr = e.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"dot -Tpng failed (exit {e.returncode}): {stderr}") from None
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    white = Image.new("RGBA", image.size, "white")
    return diagram(Image.alpha_composite(white, image))
