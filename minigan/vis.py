"""Pictures with Pillow only: image grids of samples and loss-curve plots as PNG files."""
import math

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from .data.pixels import to_uint8

# matplotlib's "tab10" colors, so curves look the way people expect.
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def _to_numpy(images):
    """A minigan Tensor (on any device) or array-like -> NumPy array."""
    if hasattr(images, "numpy"):
        images = images.detach().cpu().numpy()
    return np.asarray(images)


# ---- image grids ----

def image_grid(images, nrow=8, padding=2, value_range=(-1, 1), pad_value=0):
    """Tile (N, C, H, W) images, C 1 or 3, into one uint8 (H', W', C) picture.

    ``nrow`` images go in each row (as torchvision's ``make_grid``), with ``padding``
    pixels of ``pad_value`` (0-255) around every image. Values are clipped to
    ``value_range`` and mapped onto 0..255; ``value_range=None`` uses the batch's min and max.
    """
    x = _to_numpy(images).astype(np.float32)
    if x.ndim == 3:
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"image_grid: expected (N, C, H, W) with C 1 or 3, got {x.shape}")
    n, c, h, w = x.shape
    if n == 0:
        raise ValueError("image_grid: no images")

    lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
    # NOTE: max(..., 1e-12) keeps a constant batch from dividing by zero.
    x = (np.clip(x, lo, hi) - lo) / max(hi - lo, 1e-12)
    x = to_uint8(x)

    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    step_h, step_w = h + padding, w + padding
    grid = np.full((rows * step_h + padding, cols * step_w + padding, c), pad_value, np.uint8)
    for i in range(n):
        top = (i // cols) * step_h + padding
        left = (i % cols) * step_w + padding
        grid[top:top + h, left:left + w] = x[i].transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    return grid


def save_image_grid(images, path, nrow=8, padding=2, value_range=(-1, 1), pad_value=0, scale=2):
    """Write ``image_grid(...)`` as a PNG, enlarged ``scale`` times with nearest neighbour."""
    grid = image_grid(images, nrow, padding, value_range, pad_value)
    picture = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    if scale != 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    picture.save(path, format="PNG")
    return path


# ---- loss curves ----

def _font(size):
    """DejaVu Sans if the system has it, else Pillow's own font."""
    for name in ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1
    except TypeError:
        return ImageFont.load_default()


def nice_ticks(lo, hi, max_ticks=7):
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) inside [lo, hi]."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(max_ticks, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [k * step for k in range(first, last + 1)]


def tick_labels(ticks):
    """The numbers of one axis, all with the fewest decimals that show every tick exactly."""
    big = all(abs(v) >= 10000 and v % 1000 == 0 for v in ticks if v != 0)
    if big and any(ticks):
        return ["0" if v == 0 else f"{v / 1000:g}k" for v in ticks]
    decimals = next((d for d in range(8) if all(abs(round(v, d) - v) < 1e-9 * max(1, abs(v))
                                                for v in ticks)), 8)
    return [f"{0.0 if abs(v) < 1e-12 else v:.{decimals}f}" for v in ticks]


def ema(values, weight):
    """TensorBoard's smoothing: exponential moving average with the start-up bias removed."""
    out, avg, norm = [], 0.0, 0.0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        avg = weight * avg + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out.append(avg / norm)
    return out


def _blend(color, alpha):
    """``color`` mixed with white: what a line of opacity ``alpha`` looks like on white."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(round(255 - alpha * (255 - c)) for c in (r, g, b))


def plot_curves(series, path, title="Losses", xlabel="step", ylabel=None, smooth=0.0,
                size=(800, 480), ylim=None, x_start=0, x_step=1, ignore_outliers=True):
    """Draw ``{name: [y0, y1, ...]}`` as line plots into a PNG of ``size`` (width, height).

    Point i of each series is at x = ``x_start + i * x_step``. With ``smooth`` in (0, 1) the
    exponential moving average is drawn on top of a faint copy of the raw curve.
    ``ylim=(lo, hi)`` fixes the y-axis; otherwise it spans the data, or with
    ``ignore_outliers`` (as TensorBoard) its 0.5th to 99.5th percentile, so that a spike at
    step 0 does not flatten the rest. NaN and inf are skipped.
    """
    # NOTE: draw at 3x and shrink with a Lanczos filter: Pillow's lines have no anti-aliasing.
    ss = 3
    width, height = size
    W, H = width * ss, height * ss
    picture = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(picture)
    font, small, big = _font(13 * ss), _font(12 * ss), _font(16 * ss)

    curves = {name: [float(v) for v in ys] for name, ys in series.items()}
    smoothed = {name: ema(ys, smooth) if smooth > 0 else ys for name, ys in curves.items()}
    finite = [v for ys in [*curves.values(), *smoothed.values()] for v in ys if math.isfinite(v)]
    n_max = max((len(ys) for ys in curves.values()), default=0)

    # ---- data limits ----
    x_lo, x_hi = x_start, x_start + max(n_max - 1, 1) * x_step
    if ylim is not None:
        y_lo, y_hi = ylim
    elif finite:
        y_lo, y_hi = min(finite), max(finite)
        if ignore_outliers and len(finite) >= 200:
            y_lo, y_hi = (float(q) for q in np.percentile(finite, [0.5, 99.5]))
        margin = (y_hi - y_lo) * 0.05 or max(abs(y_lo) * 0.1, 0.5)
        y_lo, y_hi = y_lo - margin, y_hi + margin
    else:
        y_lo, y_hi = 0.0, 1.0
    y_ticks = nice_ticks(y_lo, y_hi, max_ticks=max(3, height // 60))
    x_ticks = nice_ticks(x_lo, x_hi, max_ticks=max(3, width // 80))
    y_labels, x_labels = tick_labels(y_ticks), tick_labels(x_ticks)

    # ---- plot box: leave room for title, tick labels and axis labels ----
    label_w = max(draw.textlength(t, font=small) for t in y_labels)
    left = int(label_w + 20 * ss + (22 * ss if ylabel else 0))
    right = W - 20 * ss
    top = 40 * ss if title else 16 * ss
    bottom = H - 52 * ss

    def px(x):
        return left + (x - x_lo) / (x_hi - x_lo) * (right - left)

    def py(y):
        return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top)

    # ---- grid lines, ticks and their numbers ----
    for v, text in zip(y_ticks, y_labels):
        y = py(v)
        draw.line([(left, y), (right, y)], fill=(230, 230, 230), width=ss)
        draw.line([(left - 5 * ss, y), (left, y)], fill="black", width=ss)
        draw.text((left - 8 * ss, y), text, fill="black", font=small, anchor="rm")
    for v, text in zip(x_ticks, x_labels):
        x = px(v)
        draw.line([(x, top), (x, bottom)], fill=(230, 230, 230), width=ss)
        draw.line([(x, bottom), (x, bottom + 5 * ss)], fill="black", width=ss)
        draw.text((x, bottom + 8 * ss), text, fill="black", font=small, anchor="mt")

    # ---- curves, clipped to the box ----
    plot = Image.new("RGBA", (W, H), (255, 255, 255, 0))
    pen = ImageDraw.Draw(plot)
    # Faint raw curves first, so no raw line hides a smoothed one.
    layers = []
    if smooth > 0:
        layers += [(curves[name], _blend(COLORS[i % len(COLORS)], 0.3), ss)
                   for i, name in enumerate(curves)]
    layers += [(smoothed[name], COLORS[i % len(COLORS)], 2 * ss) for i, name in enumerate(curves)]
    for ys, fill, lw in layers:
        for run in _finite_runs(ys):
            points = [(px(x_start + j * x_step), py(ys[j])) for j in run]
            if len(points) == 1:
                (x, y), r = points[0], lw
                pen.ellipse([x - r, y - r, x + r, y + r], fill=fill)
            else:
                pen.line(points, fill=fill, width=lw, joint="curve")
    mask = Image.new("L", (W, H), 0)
    ImageDraw.Draw(mask).rectangle([left, top, right, bottom], fill=255)
    picture.paste(plot, (0, 0), ImageChops.darker(plot.getchannel("A"), mask))

    # ---- axes, title, axis labels ----
    draw.rectangle([left, top, right, bottom], outline="black", width=ss)
    if title:
        draw.text(((left + right) / 2, top - 12 * ss), title, fill="black", font=big, anchor="md")
    draw.text(((left + right) / 2, H - 10 * ss), xlabel, fill="black", font=font, anchor="md")
    if ylabel:
        text = Image.new("RGBA", (int(draw.textlength(ylabel, font=font)) + 4, 20 * ss))
        ImageDraw.Draw(text).text((2, 0), ylabel, fill="black", font=font)
        text = text.rotate(90, expand=True)
        picture.paste(text, (6 * ss, (top + bottom - text.height) // 2), text)

    _legend(draw, smoothed, lambda j: px(x_start + j * x_step), py, (left, top, right, bottom),
            font, ss)
    picture = picture.resize((width, height), Image.LANCZOS)
    picture.save(path, format="PNG")
    return path


def _finite_runs(ys):
    """Index ranges of ``ys`` between NaN/inf values, so gaps stay gaps."""
    run = []
    for j, v in enumerate(ys):
        if math.isfinite(v):
            run.append(j)
        elif run:
            yield run
            run = []
    if run:
        yield run


def _legend(draw, curves, px_of_index, py, box, font, ss):
    """A white box with a colored line per series, in the corner that hides the fewest points."""
    if not curves:
        return
    left, top, right, bottom = box
    row = 20 * ss
    swatch = 24 * ss
    w = swatch + 14 * ss + max(draw.textlength(name, font=font) for name in curves)
    h = row * len(curves) + 8 * ss
    pad = 10 * ss
    corners = [(right - pad - w, top + pad), (left + pad, top + pad),
               (right - pad - w, bottom - pad - h), (left + pad, bottom - pad - h)]

    def covered(corner):
        x0, y0 = corner
        return sum(x0 <= px_of_index(j) <= x0 + w and y0 <= py(ys[j]) <= y0 + h
                   for ys in curves.values()
                   for j in range(0, len(ys), max(1, len(ys) // 1000)) if math.isfinite(ys[j]))

    x0, y0 = min(corners, key=covered)
    draw.rectangle([x0, y0, x0 + w, y0 + h], fill="white", outline=(160, 160, 160), width=ss)
    for i, name in enumerate(curves):
        y = y0 + 4 * ss + row * i + row / 2
        color = COLORS[i % len(COLORS)]
        draw.line([(x0 + 6 * ss, y), (x0 + 6 * ss + swatch, y)], fill=color, width=3 * ss)
        draw.text((x0 + swatch + 12 * ss, y), name, fill="black", font=font, anchor="lm")
