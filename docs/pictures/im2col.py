"""images/im2col.png (page 07): the windows of a small image become the columns of im2col's
matrix. Each 3×3 window of a 4×4 image (one channel, one image, stride 1, no padding) is
shaded in its colour on the left, and its column of cols in the same colour on the right;
then the conv is one matrix product, W (1×9) @ cols (9×4) = the 2×2 output.

The numbers are what minigan.ops.movers.im2col returns now, so the picture goes stale if
im2col changes.
"""
if __name__ == "__main__":   # run alone: find minigan and the pictures package
    import sys
    from pathlib import Path
    _here = Path(__file__).resolve()
    sys.path[:0] = [str(_here.parents[2]), str(_here.parents[1])]

import json

IMAGE = "im2col.png"
H = W = 4
K = 3
COLOURS = [("#1f5fbf", "#d5e3fa"), ("#c8650a", "#fbe2c8"), ("#2e8b3a", "#d3efd6"),
           ("#8a3ab9", "#ead7f5")]   # (line, fill) for window/column 0..3


def source():
    """x and cols (as the (kH·kW, Hout·Wout) matrix), as JSON."""
    import numpy as np
    from minigan.ops.movers import im2col
    x = np.arange(1, H * W + 1, dtype=np.float64).reshape(1, 1, H, W)   # (N, C, H, W)
    out = (H - K + 1, W - K + 1)
    cols = im2col(x, (K, K), (1, 1), (0, 0), (1, 1), out)   # (C, kH, kW, Hout, Wout, N)
    matrix = np.asarray(cols).reshape(K * K, out[0] * out[1])   # (C·kH·kW, Hout·Wout·N)
    return json.dumps({"x": x[0, 0].astype(int).tolist(), "kernel": K, "out": out,
                       "cols": matrix.astype(int).tolist()})


def draw(source):
    from PIL import Image, ImageDraw
    from pictures import diagram, font
    data = json.loads(source)
    x, cols, (oh, ow), k = data["x"], data["cols"], data["out"], data["kernel"]
    text, small, title = font(15), font(13), font(17)
    image = Image.new("RGB", (900, 470), "white")
    d = ImageDraw.Draw(image)

    def centred(xy, s, f, fill="black"):
        d.text(xy, s, font=f, fill=fill, anchor="mm")

    centred((450, 22), f"im2col: each {k}x{k} window of the image x becomes one column of cols",
            title)
    centred((450, 46), "(1 channel, a 4x4 image, kernel 3x3, stride 1, no padding)", small,
            "#555555")

    # ---- left: x four times, window (i, j) shaded in its colour ----
    cell, gap, left, top = 28, 34, 30, 90
    for i in range(oh):
        for j in range(ow):
            n = i * ow + j
            line, fill = COLOURS[n]
            x0, y0 = left + j * (W * cell + gap), top + i * (H * cell + gap + 18)
            for r in range(len(x)):
                for c in range(len(x[0])):
                    inside = i <= r < i + k and j <= c < j + k
                    box = (x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell, y0 + (r + 1) * cell)
                    d.rectangle(box, fill=fill if inside else "white", outline="#999999")
                    centred((box[0] + cell / 2, box[1] + cell / 2), str(x[r][c]), small,
                            "black" if inside else "#aaaaaa")
            d.rectangle((x0 + j * cell, y0 + i * cell, x0 + (j + k) * cell, y0 + (i + k) * cell),
                        outline=line, width=3)
            centred((x0 + W * cell / 2, y0 + H * cell + 10), f"window ({i}, {j})", small, line)

    # ---- the arrow ----
    ax0, ax1, ay = 300, 380, 255
    d.line((ax0, ay, ax1, ay), fill="#555555", width=3)
    d.polygon([(ax1 + 10, ay), (ax1 - 4, ay - 8), (ax1 - 4, ay + 8)], fill="#555555")
    centred(((ax0 + ax1) / 2, ay - 16), "im2col", text)

    # ---- right: cols, (kH·kW) rows by (Hout·Wout) columns ----
    cw, ch, mx, my = 58, 30, 520, 100
    for n in range(len(cols[0])):
        line, fill = COLOURS[n]
        i, j = divmod(n, ow)
        centred((mx + n * cw + cw / 2, my - 14), f"({i}, {j})", small, line)
        for r in range(len(cols)):
            box = (mx + n * cw, my + r * ch, mx + (n + 1) * cw, my + (r + 1) * ch)
            d.rectangle(box, fill=fill, outline="#999999")
            centred((box[0] + cw / 2, box[1] + ch / 2), str(cols[r][n]), text)
        d.rectangle((mx + n * cw, my, mx + (n + 1) * cw, my + len(cols) * ch), outline=line,
                    width=3)
    for r in range(len(cols)):
        u, v = divmod(r, k)
        centred((mx - 34, my + r * ch + ch / 2), f"({u}, {v})", small, "#555555")
    centred((mx - 34, my - 14), "tap", small, "#555555")
    centred((mx + 2 * cw, my + len(cols) * ch + 22), "cols: one column per window", text)
    centred((mx + 2 * cw, my + len(cols) * ch + 46), "cols[(u, v), (i, j)] = x[i + u, j + v]",
            text)
    centred((450, 445), "The conv is then one product: weights (1x9) @ cols (9x4) = y (1x4),"
            " read as the 2x2 output", text)
    return diagram(image)


if __name__ == "__main__":
    import pictures
    pictures.main(sys.modules[__name__])
