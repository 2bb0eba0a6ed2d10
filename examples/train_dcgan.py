"""Train a DCGAN (Radford et al., 2015): minigan's main job.

    python examples/train_dcgan.py                         # the default run, into runs/dcgan
    python examples/train_dcgan.py --resume auto           # continue it where it stopped
    python examples/train_dcgan.py --dataset folder --data-dir ~/faces --image-size 64
    python examples/train_dcgan.py --eval-classifier runs/classifier_fashion-mnist.npz

One step, the loss of the DCGAN paper with the non-saturating generator loss:
  k times:  D ← D - ∇ [BCE(D(x), 1 - smoothing) + BCE(D(G(z)), 0)]   (fresh x and z each time)
            (+ γ/2 E‖∇ₓD(x)‖², times N, every N steps with --r1-gamma γ --r1-every N)
  once:     G ← G - ∇ BCE(D(G(z)), 1)
Everything else (flags, data, sample grids, metrics.csv, losses.png, checkpoints, exact
resume, progress, the Ctrl-C and NaN guards, the FID at each checkpoint) is the shared
command line (examples/cli.py) on minigan.data and minigan.training.

The default run: on a GPU, 10 epochs of dcgan28 (ngf = ndf = 64, batch 128). On a CPU, a
smaller dcgan28 (ngf = ndf = 32) on batches of 64 (twice the updates for the same work) for
3000 steps or 9 minutes, whichever ends first: about 7 minutes for the 3000 steps on 2 quiet
cores (140 ms a step); on a busy machine the time limit ends it earlier, as cleanly as a
finished run (last grid, checkpoint), and --resume auto continues it.
"""
import argparse

from cli import TrainingScript, UsageError, main   # first: it finds minigan in a checkout
import minigan
import minigan.functional as F
from minigan.penalties import squared_gradient_norms


class DCGAN(TrainingScript):
    name, title = "dcgan", "DCGAN losses"
    description = ("Train a DCGAN on MNIST, Fashion-MNIST, a folder of images or a synthetic "
                   "set; leaves sample grids, metrics.csv, losses.png and checkpoints in --out.")
    defaults = dict(dataset="auto", data_dir=None, limit=None, image_size=28, batch_size=128,
                    lr=2e-4, beta1=0.5, beta2=0.999, nz=100, ngf=64, ndf=64, d_steps=1,
                    label_smoothing=0.0, r1_gamma=0.0, r1_every=16, seed=0, sample_every=200,
                    checkpoint_every=500, log_every=50, eval_classifier=None,
                    eval_samples=10000)
    cpu_defaults = dict(ngf=32, ndf=32, batch_size=64, eval_samples=2000, steps=3000,
                        time_limit=9.0)  # < 10 min
    at_least_1, non_negative = ("d_steps", "r1_every"), ("r1_gamma",)
    fraction = ("label_smoothing",)

    def add_flags(self, p):
        a = p.add_argument
        a("--d-steps", type=int, help="k: discriminator steps per generator step, each on a "
          "fresh real batch (default 1)")
        a("--label-smoothing", type=float, help="one-sided: D's target for real images is "
          "1 - this (default 0)")
        a("--r1-gamma", type=float, help="R1 penalty γ/2·E‖∇ₓD(x)‖² on real images; 0 = off "
          "(default 0)")
        a("--r1-every", type=int, help="apply R1 every N steps, scaled by N (lazy "
          "regularization; default 16)")
        a("--cuda-graph", action=argparse.BooleanOptionalAction, help="on a GPU, capture the "
          "training step once as a CUDA graph and replay it: one launch a step (R1's steps stay "
          "eager; default off until it has run on a real GPU)")

    def check(self, args, device):
        if args.cuda_graph and device != "cuda":
            raise UsageError("--cuda-graph needs a GPU (the device here is the CPU)")

    def batches_per_step(self, args):
        return args.d_steps

    def columns(self, args):
        return super().columns(args) + (["r1"] if args.r1_gamma > 0 else [])

    def arch(self, args, nc):
        return dict(model="dcgan", image_size=args.image_size, nz=args.nz, ngf=args.ngf,
                    ndf=args.ndf, nc=nc)

    def describe(self, args):
        return f"k={args.d_steps}, lr {args.lr:g}"

    def make_step(self, models, optimizers, batches, args, device):
        """The DCGAN step: k discriminator updates, then one generator update."""
        (G, D), (opt_G, opt_D) = models.values(), optimizers.values()
        n = args.batch_size
        real_target = minigan.full((n, 1), 1.0 - args.label_smoothing, device=device)
        fake_target = minigan.zeros(n, 1, device=device)
        ones = minigan.ones(n, 1, device=device)

        def inputs():
            """A step's fresh inputs: k real batches, then k noise batches."""
            xs = [next(batches) for _ in range(args.d_steps)]
            return xs + [minigan.randn(n, args.nz, device=device) for _ in range(args.d_steps)]

        def body(*tensors, penalize=False):
            xs, zs = tensors[:args.d_steps], tensors[args.d_steps:]
            r1 = None
            for k, (x, z) in enumerate(zip(xs, zs)):
                # The last fake batch keeps its graph: the G step below reuses it.
                with minigan.set_grad_enabled(k == args.d_steps - 1):
                    fake = G(z)
                if penalize and k == 0:
                    x.requires_grad_()     # R1 differentiates D(x) with respect to x
                d_real, d_fake = D(x), D(fake.detach())
                loss_D = (F.binary_cross_entropy_with_logits(d_real, real_target)
                          + F.binary_cross_entropy_with_logits(d_fake, fake_target))
                total_D = loss_D
                if penalize and k == 0:
                    # NOTE: D's BatchNorm mixes the batch: ∇ₓ Σ D(x) is not purely per sample.
                    r1 = args.r1_gamma / 2 * squared_gradient_norms(d_real, x).mean()
                    # NOTE: lazy R1 (StyleGAN2): every N steps at N times the weight.
                    total_D = loss_D + args.r1_every * r1
                opt_D.zero_grad()
                total_D.backward()
                opt_D.step()

            loss_G = F.binary_cross_entropy_with_logits(D(fake), ones)   # -log D(G(z))
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
            # NOTE: 0-d tensors, left on the device: the loop reads them every --log-every steps
            with minigan.no_grad():
                values = {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(),
                          "D(x)": F.sigmoid(d_real).mean(), "D(G(z))": F.sigmoid(d_fake).mean()}
            if args.r1_gamma > 0:
                values["r1"] = None if r1 is None else r1.detach()
            return values

        # --cuda-graph: the step captured once, then replayed (R1's steps run eagerly)
        captured = minigan.cuda.CapturedStep(body, inputs) if args.cuda_graph else None

        def step(i):
            penalize = args.r1_gamma > 0 and i % args.r1_every == 0
            if captured is not None and not penalize:
                return captured()
            return body(*inputs(), penalize=penalize)

        return step


if __name__ == "__main__":
    main(DCGAN())
