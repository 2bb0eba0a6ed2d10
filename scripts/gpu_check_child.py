"""The parts of scripts/gpu_check.py that run in a child of it (``--child capture``, ``step``,
``penalties``), each printing its result as one JSON line: the capture of a product and a
kernel into a CUDA graph, and the CPU-against-GPU comparisons of a DCGAN step and of the
penalty steps.

The parent (scripts/gpu_check.py) starts the child, reads that line and writes the table.
"""
import json

# The bound on max |GPU - CPU| / max |CPU| of each array, TF32 off, against the CPU in float64.
# In float64 the two devices differ only in the order of their sums: a tight bound. float32
# rounds every sum, and a D gradient within rounding of 0 can flip the sign of its first Adam
# step (±lr), which moves G's gradients: on the CPU, float32 against float64 differs by up to
# 3.7e-3 in D's gradients and 2.6e-2 in G's (dcgan64, batch 128). The float32 bound is there
# to catch a wrong kernel, which is off by the size of the values.
TOLERANCE = dict(float64=1e-7, float32=1e-1)


def arrays_of(prefix, tensors):
    return {f"{prefix}{name}": t.cpu().numpy().copy() for name, t in tensors}


def gan_step_arrays(case, batch, width, device, dtype):
    """One DCGAN step from seed 0: its losses, D's gradients (from loss_D), G's (from loss_G,
    after D's update) and every BatchNorm statistic, by name."""
    import minigan
    import minigan.functional as F
    from minigan.models import DCGANDiscriminator, DCGANGenerator
    minigan.manual_seed(0)
    size = 28 if case == "dcgan28" else 64
    kind = dict(device=device, dtype=getattr(minigan, dtype))
    G = DCGANGenerator(size, ngf=width).to(**kind)
    D = DCGANDiscriminator(size, ndf=width).to(**kind)
    opt_G = minigan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = minigan.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = minigan.rand(batch, 1 if size == 28 else 3, size, size, **kind) * 2 - 1
    ones, zeros = minigan.ones(batch, 1, **kind), minigan.zeros(batch, 1, **kind)
    fake = G(minigan.randn(batch, 100, **kind))
    loss_D = (F.binary_cross_entropy_with_logits(D(real), ones)
              + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros))
    loss_D.backward()
    out = arrays_of("D.grad.", ((n, p.grad) for n, p in D.named_parameters()))
    opt_D.step()
    loss_G = F.binary_cross_entropy_with_logits(D(fake), ones)
    loss_G.backward()
    opt_G.step()
    # NOTE: G's gradients follow D's Adam update, whose first step moves every weight by
    # ±lr: a gradient within rounding of 0 may take the other sign on the other device
    out.update(arrays_of("G.grad.", ((n, p.grad) for n, p in G.named_parameters())))
    out.update(arrays_of("stats.G.", G.named_buffers()))
    out.update(arrays_of("stats.D.", D.named_buffers()))
    out.update(arrays_of("loss.", [("D", loss_D), ("G", loss_G)]))
    return out


def penalty_arrays(size, batch, width, device, dtype):
    """A WGAN-GP critic step and an R1 step from seed 0: losses and gradients, by name."""
    import minigan
    import minigan.functional as F
    from minigan.models import DCGANDiscriminator, WGANCritic
    from minigan.penalties import gradient_penalty, r1_penalty
    minigan.manual_seed(0)
    channels = 1 if size == 28 else 3
    kind = dict(device=device, dtype=getattr(minigan, dtype))
    real = minigan.rand(batch, channels, size, size, **kind) * 2 - 1
    fake = minigan.rand(batch, channels, size, size, **kind) * 2 - 1
    critic = WGANCritic(size, ndf=width).to(**kind)
    wgan = critic(fake).mean() - critic(real).mean() + gradient_penalty(critic, real, fake)
    wgan.backward()
    D = DCGANDiscriminator(size, ndf=width).to(**kind)
    ones = minigan.ones(batch, 1, **kind)
    r1 = F.binary_cross_entropy_with_logits(D(real), ones) + r1_penalty(D, real, gamma=10.0)
    r1.backward()
    out = arrays_of("loss.", [("wgan_gp", wgan), ("r1", r1)])
    out.update(arrays_of("wgan_gp.grad.", ((n, p.grad) for n, p in critic.named_parameters())))
    out.update(arrays_of("r1.grad.", ((n, p.grad) for n, p in D.named_parameters()
                                      if p.grad is not None)))
    return out


def compare(cpu, gpu):
    """{'worst': (name, error), 'errors': {...}} with error = max|gpu - cpu| / max|cpu|."""
    import numpy as np
    assert cpu.keys() == gpu.keys(), sorted(set(cpu) ^ set(gpu))
    errors = {}
    for name in cpu:
        scale = max(float(np.abs(cpu[name]).max()), 1e-30)
        errors[name] = float(np.abs(gpu[name] - cpu[name]).max()) / scale
    worst = max(errors, key=errors.get)
    return {"worst": [worst, errors[worst]], "errors": errors}


def bit_identical(a, b):
    import numpy as np
    return all(np.array_equal(a[k], b[k]) for k in a)


def capture_check():
    """A capture in seconds: our GEMM and one kernel launched eagerly, then captured into a
    graph and replayed twice, on the inputs of the capture and on new ones copied into them;
    then five steps of a CapturedStep (a small Linear-LeakyReLU step with Adam: two warm-up
    steps, the capture, two replays) against the same steps run eagerly. Every comparison is
    bit for bit."""
    import numpy as np

    import minigan
    import minigan.functional as F
    from minigan import backend, cuda
    xp = backend.cupy
    rng = np.random.default_rng(0)
    a, b = (xp.asarray(rng.standard_normal(s).astype(np.float32)) for s in ((70, 130), (66, 130)))

    def launches(a, b):
        p = cuda.product(a, b.T)   # bᵀ by its flag; 2 x 2 tiles of 64 x 64, two of them partial
        y = cuda.empty_like(p)
        cuda.launch("leaky_relu", "leaky_relu_forward", p.dtype, cuda.blocks_for(p.size), p,
                    y, np.float32(0.2), np.int64(p.size))
        return p, y

    checks = {}
    eager = [x.get() for x in launches(a, b)]
    xp.cuda.get_current_stream().synchronize()
    stream = xp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        captured = launches(a, b)
        graph = stream.end_capture()

    def replay():
        graph.launch(stream=xp.cuda.get_current_stream())
        xp.cuda.get_current_stream().synchronize()
        return [x.get() for x in captured]

    checks["replay"] = all(np.array_equal(x, e) for x, e in zip(replay(), eager))
    cuda.copy(a, a * 2)   # new inputs, in the buffers the graph reads
    cuda.copy(b, b - 1)
    expected = [x.get() for x in launches(a, b)]
    checks["new inputs"] = all(np.array_equal(x, e) for x, e in zip(replay(), expected))

    def build():
        minigan.manual_seed(0)
        model = minigan.nn.Linear(130, 66).to("cuda")
        opt = minigan.optim.Adam(model.parameters(), lr=1e-2)
        x = minigan.randn(70, 130, device="cuda")

        def body(x):
            y = F.leaky_relu(model(x), 0.2)
            loss = (y * y).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return {"loss": loss.detach()}
        return body, x, model
    body, x, model = build()
    eager_losses = [body(x)["loss"].item() for _ in range(5)]
    eager_weight = model.weight.detach().cpu().numpy()
    body, x, model = build()
    step = cuda.CapturedStep(body, lambda: [x])
    graph_losses = [step()["loss"].item() for _ in range(5)]
    checks["CapturedStep"] = (graph_losses == eager_losses and np.array_equal(
        model.weight.detach().cpu().numpy(), eager_weight))
    print("RESULT " + json.dumps(dict(ok=all(checks.values()), checks=checks)))


def child(part, sizes):
    """Run one in-process part at ``sizes`` (gpu_check.SIZES, real or toy); print its result
    as the last line, as JSON.

    The CPU in float64 is the reference for the GPU in float64 and in float32; the float32
    GPU run is done twice, to be bit-identical.
    """
    import minigan
    if part == "capture":
        return capture_check()
    if part == "step":
        case, batch, width = args = sizes["step"]
        produce, what = gan_step_arrays, f"{case} batch {batch}"
    else:
        size, batch, width = args = sizes["penalty"]
        produce, what = penalty_arrays, f"{size}x{size} batch {batch}"
    cpu = produce(*args, "cpu", "float64")
    result = dict(what=what, count=len(cpu))
    for dtype in TOLERANCE:
        result[dtype] = compare(cpu, produce(*args, "cuda", dtype))
    result["twice"] = bit_identical(produce(*args, "cuda", "float32"),
                                    produce(*args, "cuda", "float32"))
    result["ok"] = result["twice"] and all(result[dtype]["worst"][1] <= bound
                                           for dtype, bound in TOLERANCE.items())
    print("RESULT " + json.dumps(result))
