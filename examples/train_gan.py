"""Train the classic fully connected GAN (Goodfellow et al., 2014) on MNIST or Fashion-MNIST.

    python examples/train_gan.py                        # the default run, into runs/gan
    python examples/train_gan.py --steps 1500 --out runs/gan --resume auto

Algorithm 1 of the paper, with the non-saturating generator loss:
  k times:  D ← D - ∇ [BCE(D(x), 1) + BCE(D(G(z)), 0)]     (x, z a fresh minibatch each time)
  once:     G ← G - ∇ BCE(D(G(z)), 1)
D outputs logits, so both losses are BCE with logits. The models are minigan.models'
MLPGenerator and MLPDiscriminator (28×28 images). Everything else (flags, data, sample
grids, metrics.csv, losses.png, checkpoints, exact resume, progress, the Ctrl-C and NaN
guards) is the shared command line (examples/cli.py), as in train_dcgan.py.

The default run: 20 epochs on a GPU; on a CPU 10000 steps or 9 minutes, whichever ends first.
"""
from cli import TrainingScript, main   # first: it finds minigan in a checkout
import minigan
import minigan.functional as F


class GAN(TrainingScript):
    name, title = "gan", "GAN losses"
    description = __doc__.split("\n")[0]
    defaults = dict(dataset="auto", data_dir=None, limit=None, image_size=28, batch_size=64,
                    lr=2e-4, beta1=0.5, beta2=0.999, nz=100, d_steps=1, seed=0,
                    sample_every=400, checkpoint_every=1000, log_every=100,
                    eval_classifier=None, eval_samples=10000)
    cpu_defaults = dict(eval_samples=2000, steps=10000, time_limit=9.0)
    gpu_epochs = 20
    image_sizes = (28,)
    at_least_1 = ("d_steps",)

    def add_flags(self, p):
        p.add_argument("--d-steps", type=int, help="k: discriminator steps per generator "
                       "step, each on a fresh real batch (default 1)")

    def batches_per_step(self, args):
        return args.d_steps

    def arch(self, args, nc):
        return dict(model="mlp-gan", image_size=args.image_size, nz=args.nz, nc=nc)

    def describe(self, args):
        return f"k={args.d_steps}, lr {args.lr:g}"

    def make_step(self, models, optimizers, batches, args, device):
        (G, D), (opt_G, opt_D) = models.values(), optimizers.values()
        n = args.batch_size
        real_label = minigan.ones(n, 1, device=device)
        fake_label = minigan.zeros(n, 1, device=device)

        def step(i):
            # ---- D: k steps, each on a fresh real batch and fresh noise ----
            for k in range(args.d_steps):
                x = next(batches)
                z = minigan.randn(n, args.nz, device=device)
                # The last fake batch keeps its graph: the G step below reuses it.
                with minigan.set_grad_enabled(k == args.d_steps - 1):
                    fake = G(z)
                d_real, d_fake = D(x), D(fake.detach())
                loss_D = (F.binary_cross_entropy_with_logits(d_real, real_label)
                          + F.binary_cross_entropy_with_logits(d_fake, fake_label))
                opt_D.zero_grad()
                loss_D.backward()
                opt_D.step()

            # ---- G: non-saturating loss, -log D(G(z)) ----
            loss_G = F.binary_cross_entropy_with_logits(D(fake), real_label)
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
            with minigan.no_grad():   # 0-d tensors: the loop reads them every --log-every steps
                return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(),
                        "D(x)": F.sigmoid(d_real).mean(), "D(G(z))": F.sigmoid(d_fake).mean()}

        return step


if __name__ == "__main__":
    main(GAN())
