"""images/training_strip.png (the README): what the main job makes. The top row is the
fixed-noise grid of a real default run (``python examples/train_dcgan.py``) at a few steps
of its training, each cut to its top-left 4 × 4 samples, with a cut of the real batch
beside them; below is the run's own loss plot, as it wrote it.

    python docs/pictures/training_strip.py runs/dcgan      # redraw from that run

A run is not something the check can make again, so ``source()`` names the run's files
(and their sha256) only when a run folder is given on the command line; otherwise it is
None, and the check judges the script alone.
"""
if __name__ == "__main__":   # run alone: find minigan and the pictures package
    import sys
    from pathlib import Path
    _here = Path(__file__).resolve()
    sys.path[:0] = [str(_here.parents[2]), str(_here.parents[1])]

import hashlib
from pathlib import Path

IMAGE = "training_strip.png"
RUN = None                       # the run folder, set by the command line only
STEPS = (200, 600, 1000, 1600, 2200, 3000)
CELLS = 4                        # samples a side of each cut
GAP, LABEL = 12, 24              # pixels between cuts, and above them for the labels


def files(run):
    """The run's files the picture shows, in the order it shows them."""
    return ([run / f"samples_{step:06d}.png" for step in STEPS]
            + [run / "real_samples.png", run / "losses.png"])


def source():
    """The run's files and their sha256, one a line; None without a run folder."""
    if RUN is None:
        return None
    lines = []
    for f in files(Path(RUN)):
        lines.append(f"{f.name} {hashlib.sha256(f.read_bytes()).hexdigest()}")
    return "\n".join(lines)


def cut(grid):
    """The top-left CELLS × CELLS samples of an image_grid picture (8 a row, each cell
    padded on every side), with the padding around them."""
    cell = (grid.width - 2) // 8                 # image + padding, as image_grid lays it out
    return grid.crop((0, 0, CELLS * cell + 2, CELLS * cell + 2))


def draw(source):
    from PIL import Image, ImageDraw
    from pictures import font
    run = Path(RUN)
    *grids, real, losses = [Image.open(f).convert("RGB") for f in files(run)]
    cuts = [cut(g) for g in grids] + [cut(real)]
    labels = [f"step {step}" for step in STEPS] + ["real images"]
    w, h = cuts[0].size
    strip_w = len(cuts) * w + (len(cuts) - 1) * GAP + GAP // 2   # the real cut set apart
    width = max(strip_w, losses.width)
    picture = Image.new("RGB", (width, LABEL + h + GAP + losses.height), "white")
    pen = ImageDraw.Draw(picture)
    x0 = (width - strip_w) // 2
    for i, (image, label) in enumerate(zip(cuts, labels)):
        x = x0 + i * (w + GAP) + (GAP // 2 if i == len(cuts) - 1 else 0)
        picture.paste(image, (x, LABEL))
        pen.text((x + w // 2, LABEL // 2), label, fill="black", font=font(15), anchor="mm")
    picture.paste(losses, ((width - losses.width) // 2, LABEL + h + GAP))
    return picture


if __name__ == "__main__":
    import pictures
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/pictures/training_strip.py RUN_FOLDER")
    RUN = sys.argv[1]
    pictures.main(sys.modules[__name__])
