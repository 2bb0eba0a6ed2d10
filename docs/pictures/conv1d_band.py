"""images/conv1d_band.png (page 07): a 1-D conv is a banded matrix M (y = M x), and the
transposed conv is Mᵀ.

Six inputs, kernel w = [1, 2, 3], stride 1, no padding: four outputs. Row i of M holds w
at columns i..i+2, so each output gathers three inputs (y₁ = 1·x₁ + 2·x₂ + 3·x₃, the row
outlined on the left). Column i of Mᵀ is that same row, so in the transposed conv each
input g₁ scatters into three outputs (the column outlined on the right).

Both matrices are Jacobians that minigan computes now: conv2d and conv_transpose2d on
1-row images, applied to each unit vector in turn.
"""
if __name__ == "__main__":   # run alone: find minigan and the pictures package
    import sys
    from pathlib import Path
    _here = Path(__file__).resolve()
    sys.path[:0] = [str(_here.parents[2]), str(_here.parents[1])]

import json

IMAGE = "conv1d_band.png"
LENGTH, KERNEL = [6, [1.0, 2.0, 3.0]]
ROW = 1   # the output row outlined on the left, the input column on the right
TAP_COLOURS = [("#1f5fbf", "#d5e3fa"), ("#c8650a", "#fbe2c8"), ("#2e8b3a", "#d3efd6")]


def jacobian(f, n):
    """The matrix of the linear map f on vectors of length n: column k is f(e_k)."""
    import numpy as np
    import minigan
    columns = []
    for k in range(n):
        e = np.zeros((1, 1, 1, n))    # (N, C, H, W): one image of one row
        e[0, 0, 0, k] = 1.0
        columns.append(f(minigan.tensor(e)).numpy().reshape(-1))
    return np.stack(columns, axis=1)


def source():
    """M (conv) and the matrix of the transposed conv, as JSON."""
    import numpy as np
    import minigan
    from minigan.ops.conv import conv2d, conv_transpose2d
    w = minigan.tensor(np.array(KERNEL).reshape(1, 1, 1, len(KERNEL)))   # (out, in, kH, kW)
    M = jacobian(lambda x: conv2d(x, w), LENGTH)
    T = jacobian(lambda g: conv_transpose2d(g, w), M.shape[0])
    if not np.array_equal(T, M.T):
        raise AssertionError("conv_transpose2d's matrix is not the transpose of conv2d's")
    return json.dumps({"kernel": KERNEL, "M": M.tolist(), "T": T.tolist()})


def draw(source):
    from PIL import Image, ImageDraw
    from pictures import diagram, font
    data = json.loads(source)
    kernel, M, T = data["kernel"], data["M"], data["T"]
    taps = {v: i for i, v in enumerate(kernel)}   # which tap a number is: its colour
    text, small, title = font(15), font(13), font(17)
    image = Image.new("RGB", (900, 500), "white")
    d = ImageDraw.Draw(image)

    def centred(xy, s, f, fill="black"):
        d.text(xy, s, font=f, fill=fill, anchor="mm")

    def matrix(A, x0, y0, rows, cols, outline_row=None, outline_col=None, cell=42):
        for r, row in enumerate(A):
            centred((x0 - 20, y0 + r * cell + cell / 2), rows(r), text, "#555555")
            for c, v in enumerate(row):
                box = (x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell, y0 + (r + 1) * cell)
                if v == 0:
                    d.rectangle(box, fill="white", outline="#cccccc")
                    centred((box[0] + cell / 2, box[1] + cell / 2), "0", small, "#bbbbbb")
                else:
                    line, fill = TAP_COLOURS[taps[v]]
                    d.rectangle(box, fill=fill, outline="#999999")
                    centred((box[0] + cell / 2, box[1] + cell / 2), f"{v:g}", text, line)
        for c in range(len(A[0])):
            centred((x0 + c * cell + cell / 2, y0 - 14), cols(c), text, "#555555")
        red = "#d0021b"
        if outline_row is not None:
            d.rectangle((x0 - 2, y0 + outline_row * cell - 2, x0 + len(A[0]) * cell + 2,
                         y0 + (outline_row + 1) * cell + 2), outline=red, width=3)
        if outline_col is not None:
            d.rectangle((x0 + outline_col * cell - 2, y0 - 2, x0 + (outline_col + 1) * cell + 2,
                         y0 + len(A) * cell + 2), outline=red, width=3)

    w = ", ".join(f"{v:g}" for v in kernel)
    centred((450, 22), f"A 1-D conv as a matrix: 6 inputs, kernel w = [{w}], stride 1,"
            " no padding", title)
    key = 450 - 3 * 70
    for i, (line, fill) in enumerate(TAP_COLOURS):
        d.rectangle((key + i * 140, 44, key + i * 140 + 18, 58), fill=fill, outline=line)
        d.text((key + i * 140 + 24, 51), f"tap {i}: w{i} = {kernel[i]:g}", font=small,
               fill=line, anchor="lm")

    def with_transpose(xy, before, after, f, fill="black"):   # before + raised "T" + after
        d.text(xy, before, font=f, fill=fill, anchor="lm")
        right = d.textbbox(xy, before, font=f, anchor="lm")[2]
        d.text((right + 1, xy[1] - 6), "T", font=small, fill=fill, anchor="lm")
        d.text((right + 11, xy[1]), after, font=f, fill=fill, anchor="lm")

    # ---- left: the conv, y = M x ----
    x0, y0, cell = 80, 130, 42
    centred((x0 + 3 * cell, 92), "conv:  y = M x", title)
    matrix(M, x0, y0, lambda r: f"y{r}", lambda c: f"x{c}", outline_row=ROW)
    terms = " + ".join(f"{M[ROW][c]:g}·x{c}" for c in range(len(M[0])) if M[ROW][c])
    below = y0 + len(M) * cell + 30
    centred((x0 + 3 * cell, below), f"gather: y{ROW} = {terms}", text)
    centred((x0 + 3 * cell, below + 24), "each output reads 3 inputs: a row of M", small,
            "#555555")

    # ---- between: the transpose ----
    ay = y0 + 2 * cell
    d.line((x0 + 6 * cell + 40, ay, 530, ay), fill="#555555", width=3)
    d.polygon([(540, ay), (526, ay - 8), (526, ay + 8)], fill="#555555")
    centred(((x0 + 6 * cell + 40 + 530) / 2, ay - 16), "transpose", text)

    # ---- right: the transposed conv, z = M^T g ----
    x1, y1 = 600, 130
    with_transpose((x1 + 2 * cell - 95, 92), "transposed conv:  z = M", "g", title)
    matrix(T, x1, y1, lambda r: f"z{r}", lambda c: f"g{c}", outline_col=ROW)
    outs = ", ".join(f"{T[r][ROW]:g}·g{ROW} to z{r}" for r in range(len(T)) if T[r][ROW])
    below = y1 + len(T) * cell + 26
    centred((x1 + 2 * cell, below), f"scatter: g{ROW} adds {outs}", text)
    with_transpose((x1 + 2 * cell - 140, below + 24), "each input writes 3 outputs: a column of M",
                   "", small, "#555555")
    centred((x1 + 2 * cell, below + 44), f"(column {ROW} of it is row {ROW} of M)", small,
            "#555555")
    return diagram(image)


if __name__ == "__main__":
    import pictures
    pictures.main(sys.modules[__name__])
