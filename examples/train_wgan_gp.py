"""Train a WGAN-GP (Gulrajani et al., 2017): a Wasserstein critic kept 1-Lipschitz by a
gradient penalty, which minigan computes through its own second derivatives.

    python examples/train_wgan_gp.py                       # the default run, into runs/wgan_gp
    python examples/train_wgan_gp.py --resume auto         # continue it where it stopped
    python examples/train_wgan_gp.py --dataset fashion-mnist --steps 2000
    python examples/train_wgan_gp.py --eval-classifier runs/classifier_fashion-mnist.npz

One step, the paper's Algorithm 1:
  n_critic times:  D ← Adam(∇ [E D(G(z)) - E D(x) + λ E (‖∇ D(x̂)‖₂ - 1)²])
                   x̂ = ε x + (1 - ε) G(z), ε ~ U[0, 1] per sample; fresh x and z each time
  once:            G ← Adam(∇ -E D(G(z)))
with λ = 10, n_critic = 5, Adam lr 1e-4, betas (0.0, 0.9). The critic is DCGAN's
discriminator with LayerNorm in place of BatchNorm (minigan.models.WGANCritic), the
generator DCGAN's. The penalty is minigan.penalties.gradient_penalty. Everything else
(flags, data, sample grids, metrics.csv, losses.png, checkpoints, exact resume, progress,
the Ctrl-C and NaN guards, the FID at each checkpoint) is the shared command line
(examples/cli.py), as in train_dcgan.py.

Logged per step: loss_D, loss_G, W (E D(x) - E D(G(z)), the critic's estimate of the
Wasserstein distance: it should fall as G improves) and gp (the penalty).

The default run: on a GPU, 10 epochs at ngf = ndf = 64. On a CPU, ngf = ndf = 32, batch 64,
for 600 generator steps (3000 critic steps) or 9 minutes, whichever ends first (about 8
minutes for the 600 steps on 2 quiet cores; Fashion-MNIST then shows garment silhouettes,
not yet details). A run stopped by the time limit ends as cleanly as a finished one, and
--resume auto continues it.
"""
from cli import TrainingScript, main   # first: it finds minigan in a checkout
import minigan
from minigan.penalties import gradient_penalty


class WGANGP(TrainingScript):
    name, title = "wgan_gp", "WGAN-GP losses"
    description = ("Train a WGAN-GP on MNIST, Fashion-MNIST, a folder of images or a "
                   "synthetic set; leaves sample grids, metrics.csv, losses.png and "
                   "checkpoints in --out.")
    defaults = dict(dataset="auto", data_dir=None, limit=None, image_size=28, batch_size=64,
                    lr=1e-4, beta1=0.0, beta2=0.9, nz=100, ngf=64, ndf=64, n_critic=5,
                    lambda_gp=10.0, norm="layer", seed=0, sample_every=100,
                    checkpoint_every=250, log_every=25, eval_classifier=None,
                    eval_samples=10000)
    cpu_defaults = dict(ngf=32, ndf=32, eval_samples=2000, steps=600, time_limit=9.0)
    at_least_1, non_negative = ("n_critic",), ("lambda_gp",)
    plot = ("loss_D", "loss_G", "W")

    def add_flags(self, p):
        a = p.add_argument
        a("--n-critic", type=int, help="critic steps per generator step, each on a fresh real "
          "batch (default 5)")
        a("--lambda-gp", type=float, help="λ, the weight of the gradient penalty (default 10)")
        a("--norm", choices=("layer", "none"), help="the critic's normalization (default "
          "layer)")

    def batches_per_step(self, args):
        return args.n_critic

    def columns(self, args):
        return ["loss_D", "loss_G", "W", "gp"]

    def arch(self, args, nc):
        return dict(model="wgan-gp", image_size=args.image_size, nz=args.nz, ngf=args.ngf,
                    ndf=args.ndf, nc=nc, norm=args.norm)

    def describe(self, args):
        return f"n_critic {args.n_critic}, λ {args.lambda_gp:g}, lr {args.lr:g}"

    def make_step(self, models, optimizers, batches, args, device):
        """Algorithm 1 of the paper: n_critic critic updates, then one generator update."""
        (G, D), (opt_G, opt_D) = models.values(), optimizers.values()
        n = args.batch_size

        def step(i):
            for _ in range(args.n_critic):
                x = next(batches)
                with minigan.no_grad():
                    fake = G(minigan.randn(n, args.nz, device=device))
                d_real, d_fake = D(x).mean(), D(fake).mean()
                gp = gradient_penalty(D, x, fake, args.lambda_gp)
                loss_D = d_fake - d_real + gp
                opt_D.zero_grad()
                loss_D.backward()
                opt_D.step()

            D.requires_grad_(False)   # the generator's backward needs no gradient for D's weights
            loss_G = -D(G(minigan.randn(n, args.nz, device=device))).mean()
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
            D.requires_grad_(True)
            with minigan.no_grad():   # 0-d tensors: the loop reads them every --log-every steps
                return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(),
                        "W": d_real - d_fake, "gp": gp.detach()}

        return step


if __name__ == "__main__":
    main(WGANGP())
