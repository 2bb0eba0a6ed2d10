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
(data, sample grids, metrics.csv, losses.png, checkpoints, exact resume, progress, the
Ctrl-C and NaN guards, the FID at each checkpoint) is minigan.data and minigan.training,
as in train_dcgan.py.

Logged per step: loss_D, loss_G, W (E D(x) - E D(G(z)), the critic's estimate of the
Wasserstein distance: it should fall as G improves) and gp (the penalty).

The default run: on a GPU, 10 epochs at ngf = ndf = 64. On a CPU, ngf = ndf = 32, batch 64,
for 600 generator steps (3000 critic steps) or 9 minutes, whichever ends first (about 8
minutes for the 600 steps on 2 quiet cores; Fashion-MNIST then shows garment silhouettes,
not yet details). A run stopped by the time limit ends as cleanly as a finished one, and
--resume auto continues it.
"""
import argparse
import os
import sys

try:
    import minigan
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import minigan
from minigan import training
from minigan.data import SOURCES
from minigan.penalties import gradient_penalty

# Settings a resumed run takes from its checkpoint unless a flag gives them.
DEFAULTS = dict(dataset="auto", data_dir=None, limit=None, image_size=28, batch_size=64,
                lr=1e-4, beta1=0.0, beta2=0.9, nz=100, ngf=64, ndf=64, n_critic=5,
                lambda_gp=10.0, norm="layer", seed=0, sample_every=100, checkpoint_every=250,
                log_every=25, eval_classifier=None, eval_samples=10000)
CPU_DEFAULTS = dict(ngf=32, ndf=32, eval_samples=2000, steps=600, time_limit=9.0)  # < 10 min
GPU_EPOCHS = 10


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Train a WGAN-GP on MNIST, Fashion-MNIST, a folder of images or a "
                    "synthetic set; leaves sample grids, metrics.csv, losses.png and "
                    "checkpoints in --out.",
        epilog="Flags left out on --resume take their values from the checkpoint.")
    a = p.add_argument
    a("--dataset", choices=SOURCES, help="auto (default): the first of MNIST, Fashion-MNIST "
      "(found on disk, else MNIST downloaded) and the synthetic set")
    a("--data-dir", help="folder of the IDX files (mnist, fashion-mnist) or of the images "
      "(folder)")
    a("--limit", type=int, help="use only the first N images")
    a("--image-size", type=int, choices=(28, 64), help="28: 1 channel (default); 64: 3 "
      "channels (MNIST-like sets stay 1 channel)")
    a("--batch-size", type=int, help="images per batch (default 64)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="total generator steps, counted from the "
                        f"start of the run, resumes included (CPU default "
                        f"{CPU_DEFAULTS['steps']})")
    length.add_argument("--epochs", type=int, help=f"passes over the data (GPU default "
                        f"{GPU_EPOCHS})")
    a("--lr", type=float, help="Adam learning rate of both models (default 1e-4)")
    a("--beta1", type=float, help="Adam beta1 (default 0.0)")
    a("--beta2", type=float, help="Adam beta2 (default 0.9)")
    a("--nz", type=int, help="latent size (default 100)")
    a("--ngf", type=int, help="generator width (default 64; 32 on a CPU)")
    a("--ndf", type=int, help="critic width (default 64; 32 on a CPU)")
    a("--n-critic", type=int, help="critic steps per generator step, each on a fresh real "
      "batch (default 5)")
    a("--lambda-gp", type=float, help="λ, the weight of the gradient penalty (default 10)")
    a("--norm", choices=("layer", "none"), help="the critic's normalization (default layer)")
    a("--device", choices=("auto", "cpu", "cuda"), default="auto",
      help="auto (default): the GPU when there is one")
    a("--seed", type=int, help="seed of the weights, the noise and the data order (default 0)")
    a("--out", default="runs/wgan_gp", help="output folder (default runs/wgan_gp)")
    a("--sample-every", type=int, help="write an 8×8 grid of fixed-noise samples every N steps "
      "(default 100; 0: only at the end)")
    a("--checkpoint-every", type=int, help="write a checkpoint every N steps (default 250; "
      "0: only at the end and on Ctrl-C)")
    a("--time-limit", type=float, metavar="MIN", help="stop cleanly (sample grid, checkpoint) "
      f"after MIN minutes of training; --resume auto continues (default: "
      f"{CPU_DEFAULTS['time_limit']:g} on a CPU when neither --steps nor --epochs is given, "
      f"else none)")
    a("--log-every", type=int, help="when stdout is not a terminal, print a progress line every "
      "N steps (default 25)")
    a("--eval-classifier", metavar="CKPT", help="at every checkpoint, log the classifier-FID "
      "of --eval-samples generated images against the real test set (the training images "
      "for sets without one) in metrics.csv (fid) and fid.png; CKPT: a checkpoint of "
      "examples/train_classifier.py (default: none)")
    a("--eval-samples", type=int, metavar="N", help="generated images per FID (default 10000; "
      f"{CPU_DEFAULTS['eval_samples']} on a CPU)")
    a("--resume", metavar="PATH|auto", help="continue from a checkpoint, a run folder, or auto: "
      "the newest checkpoint in --out (none there: start afresh)")
    return p.parse_args(argv)


def settle(args, device, saved):
    """Fill in the flags left out: from the checkpoint, else the defaults (for this device)."""
    defaults = dict(DEFAULTS, **({k: CPU_DEFAULTS[k] for k in ("ngf", "ndf", "eval_samples")}
                                 if device == "cpu" else {}))
    training.settle_args(args, defaults, saved)
    if args.steps is None and args.epochs is None:
        if args.time_limit is None and device == "cpu":
            args.time_limit = CPU_DEFAULTS["time_limit"]
        if saved is not None:
            args.steps = saved["steps"]
        elif device == "cpu":
            args.steps = CPU_DEFAULTS["steps"]
        else:
            args.epochs = GPU_EPOCHS
    for name in ("batch_size", "nz", "ngf", "ndf", "n_critic", "steps", "epochs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise training.RunError(f"--{name.replace('_', '-')} must be at least 1")
    if args.eval_samples < 2:
        raise training.RunError("--eval-samples must be at least 2")
    if args.lr <= 0 or args.lambda_gp < 0 or (args.time_limit or 1) <= 0:
        raise training.RunError("--lr and --time-limit must be positive, --lambda-gp at least 0")


def build_models(arch, device):
    """(G, D) for the architecture record: DCGAN's generator, the LayerNorm critic."""
    G = minigan.models.DCGANGenerator(arch["image_size"], arch["nz"], arch["ngf"], arch["nc"])
    D = minigan.models.WGANCritic(arch["image_size"], arch["ndf"], arch["nc"], arch["norm"])
    return G.to(device), D.to(device)


def make_step(G, D, opt_G, opt_D, batches, args, device):
    """Algorithm 1 of the paper: n_critic critic updates, then one generator update."""
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
        return {"loss_D": loss_D.item(), "loss_G": loss_G.item(),
                "W": (d_real - d_fake).item(), "gp": gp.item()}

    return step


def main(argv=None):
    args = parse_args(argv)
    device = training.resolve_device(args.device)
    ckpt_path = training.find_checkpoint(args.resume, args.out)
    ckpt = training.load_checkpoint(ckpt_path) if ckpt_path else None
    settle(args, device, ckpt["config"] if ckpt else None)
    minigan.manual_seed(args.seed)

    data, batches, steps_per_epoch, total = training.load_batches(args, device, args.n_critic)

    arch = dict(model="wgan-gp", image_size=args.image_size, nz=args.nz, ngf=args.ngf,
                ndf=args.ndf, nc=data.images.shape[1], norm=args.norm)
    G, D = build_models(arch, device)
    opt_G = minigan.optim.Adam(G.parameters(), lr=args.lr, betas=(args.beta1, args.beta2))
    opt_D = minigan.optim.Adam(D.parameters(), lr=args.lr, betas=(args.beta1, args.beta2))
    fixed_z = minigan.randn(64, args.nz, device=device)

    config = {k: getattr(args, k) for k in DEFAULTS}
    config.update(dataset=data.name, steps=total)
    columns = ["loss_D", "loss_G", "W", "gp"]
    evaluate = training.classifier_evaluation(args, data, G, device, columns)
    run = training.TrainingRun(
        args.out, {"G": G, "D": D}, {"G": opt_G, "D": opt_D}, batches, total, arch, config,
        fixed_z, columns=columns, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every,
        plot=("loss_D", "loss_G", "W"),
        title=f"WGAN-GP losses ({data.name}, batch {args.batch_size})",
        time_limit=None if args.time_limit is None else 60 * args.time_limit, evaluate=evaluate)
    if ckpt:
        run.restore(ckpt)
        print(f"resuming from {ckpt_path} at step {run.step}")
    print(f"{training.describe_arch(arch)} on {device}: {total} steps of batch "
          f"{args.batch_size} ({total / steps_per_epoch:.1f} epochs), n_critic "
          f"{args.n_critic}, λ {args.lambda_gp:g}, lr {args.lr:g}"
          + (f", at most {args.time_limit:g} min" if args.time_limit else "")
          + f"; writing to {args.out}", flush=True)
    run.run(make_step(G, D, opt_G, opt_D, batches, args, device))


if __name__ == "__main__":
    training.run_cli(main)
