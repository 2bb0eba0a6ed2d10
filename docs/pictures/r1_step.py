"""images/r1_step.png (page 08): minigan.autograd.to_dot of a discriminator loss with the
R1 penalty: the ops that the backward of D(x) recorded in pink, every other op in yellow
(the forward's, and the penalty's own arithmetic on the gradient).

    loss_D = BCE(D(x), 1) + γ/2 · mean(‖∇ₓ D(x)‖²)     (x real, requires grad)

∇ₓ D(x) is taken with create_graph=True (minigan.penalties), so that backward's ops
(MatMul, LeakyReLUGrad, ConvTranspose2d) are recorded into the graph, and loss_D's own
backward then runs through them: second derivatives. D is a small conv net, so the
picture stays readable; it is drawn after loss_D.backward(retain_graph=True), so every
arrow says what that backward needed (dashed: nothing).
"""
if __name__ == "__main__":   # run alone: find minigan and the pictures package
    import sys
    from pathlib import Path
    _here = Path(__file__).resolve()
    sys.path[:0] = [str(_here.parents[2]), str(_here.parents[1])]

IMAGE = "r1_step.png"


def source():
    """The DOT text of loss_D's graph."""
    import minigan
    import minigan.functional as F
    from minigan import nn
    from minigan.penalties import squared_gradient_norms
    state = minigan.random.get_rng_state()   # the caller's random stream stays as it was
    try:
        minigan.manual_seed(0)
        D = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                          nn.Flatten(), nn.Linear(8, 1))
        x = minigan.randn(2, 1, 4, 4).requires_grad_(True)
    finally:
        minigan.random.set_rng_state(state)
    scores = D(x)
    gamma = 10.0
    r1 = gamma / 2 * squared_gradient_norms(scores, x).mean()   # as r1_penalty computes it
    loss = F.binary_cross_entropy_with_logits(scores, minigan.ones(2, 1)) + r1
    loss.backward(retain_graph=True)
    names = {"x (real)": x, **{f"D.{n}": p for n, p in D.named_parameters()}, "loss_D": loss}
    return minigan.autograd.to_dot(loss, params=names)


def draw(source):
    from pictures import dot_png
    return dot_png(source)


if __name__ == "__main__":
    import pictures
    pictures.main(sys.modules[__name__])
