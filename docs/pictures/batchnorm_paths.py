"""images/batchnorm_paths.png (page 06): the three paths by which one input xⱼ of a
channel reaches x̂ₖ in BatchNorm, each arrow labelled with its partial derivative.

    μ = (1/m) Σ xₖ,   σ² = (1/m) Σ (xₖ − μ)²,   s = 1/√(σ² + eps),   x̂ₖ = (xₖ − μ) · s

The chain rule multiplies along a path and adds the paths:
    ∂x̂ₖ/∂xⱼ = s δₖⱼ  −  s/m  −  s x̂ₖ x̂ⱼ/m
The arrow μ → σ² carries 0 (Σₖ (xₖ − μ) = 0), which is why it adds nothing.
The picture is drawn from the DOT text below; it reads nothing from minigan.
"""
if __name__ == "__main__":   # run alone: find minigan and the pictures package
    import sys
    from pathlib import Path
    _here = Path(__file__).resolve()
    sys.path[:0] = [str(_here.parents[2]), str(_here.parents[1])]

IMAGE = "batchnorm_paths.png"

DIRECT, MEAN, VARIANCE = "#1f5fbf", "#2e8b3a", "#c8650a"

DOT = f"""digraph batchnorm_paths {{
    graph [rankdir=LR, fontname="DejaVu Sans", fontsize=13, nodesep=0.5, ranksep=1.3,
           labelloc=b, label=<<br/>∂x̂ₖ/∂xⱼ  =  <font color="{DIRECT}">s δₖⱼ</font>
  +  <font color="{MEAN}">(1/m)(−s)</font>
  +  <font color="{VARIANCE}">(2/m)(xⱼ − μ) · (−½ s² x̂ₖ)</font>
  =  s (δₖⱼ − 1/m − x̂ₖ x̂ⱼ / m)>];
    node [fontname="DejaVu Sans", fontsize=15, shape=ellipse, style=filled,
          fillcolor="#ffffff", width=0.9];
    edge [fontname="DejaVu Sans", fontsize=12, penwidth=1.8];
    x [label="xⱼ", fillcolor="#cfe3ff"];
    mu [label="μ"];
    var [label="σ²\\n(s = 1/√(σ² + eps))"];
    xhat [label="x̂ₖ", fillcolor="#fff2cc"];
    x -> xhat [label="directly:  ∂x̂ₖ/∂xⱼ = s δₖⱼ", color="{DIRECT}", fontcolor="{DIRECT}"];
    x -> mu [label="∂μ/∂xⱼ = 1/m", color="{MEAN}", fontcolor="{MEAN}"];
    mu -> xhat [label="∂x̂ₖ/∂μ = −s", color="{MEAN}", fontcolor="{MEAN}"];
    x -> var [label="∂σ²/∂xⱼ = (2/m)(xⱼ − μ)", color="{VARIANCE}", fontcolor="{VARIANCE}"];
    var -> xhat [label="∂x̂ₖ/∂σ² = −½ s² x̂ₖ", color="{VARIANCE}", fontcolor="{VARIANCE}"];
    mu -> var [label="∂σ²/∂μ = −(2/m) Σₖ (xₖ − μ) = 0", style=dashed, color="#888888",
               fontcolor="#666666"];
    {{ rank=same; mu; var; }}
}}
"""


def source():
    """The DOT text: the picture needs nothing from minigan."""
    return DOT


def draw(source):
    from pictures import dot_png
    return dot_png(source)


if __name__ == "__main__":
    import pictures
    pictures.main(sys.modules[__name__])
