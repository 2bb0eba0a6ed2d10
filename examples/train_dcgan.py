"""Train a DCGAN (Radford et al., 2015): minigan's main job.

    python examples/train_dcgan.py                         # the default run, into runs/dcgan
    python examples/train_dcgan.py --resume auto           # continue it where it stopped
    python examples/train_dcgan.py --dataset folder --data-dir ~/faces --image-size 64
    python examples/train_dcgan.py --eval-classifier runs/classifier_fashion-mnist.npz

One step, the loss of the DCGAN paper with the non-saturating generator loss:
  k times:  D ← D - ∇ [BCE(D(x), 1 - smoothing) + BCE(D(G(z)), 0)]   (fresh x and z each time)
            (+ γ/2 E‖∇ₓD(x)‖², times N, every N steps with --r1-gamma γ --r1-every N)
  once:     G ← G - ∇ BCE(D(G(z)), 1)
Everything else (data, sample grids, metrics.csv, losses.png, checkpoints, exact resume,
progress, the Ctrl-C and NaN guards, the FID at each checkpoint) is minigan.data and
minigan.training.

The default run: on a GPU, 10 epochs of dcgan28 (ngf = ndf = 64, batch 128). On a CPU, a
smaller dcgan28 (ngf = ndf = 32) on batches of 64 (twice the updates for the same work) for
3000 steps or 9 minutes, whichever ends first: about 7 minutes for the 3000 steps on 2 quiet
cores (140 ms a step); on a busy machine the time limit ends it earlier, as cleanly as a
finished run (last grid, checkpoint), and --resume auto continues it.
"""
import argparse
import os
import sys

try:
    import minigan
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import minigan
import minigan.functional as F
from minigan import training
from minigan.data import SOURCES
from minigan.penalties import squared_gradient_norms

# Settings a resumed run takes from its checkpoint unless a flag gives them.
DEFAULTS = dict(dataset="auto", data_dir=None, limit=None, image_size=28, batch_size=128,
                lr=2e-4, beta1=0.5, beta2=0.999, nz=100, ngf=64, ndf=64, d_steps=1,
                label_smoothing=0.0, r1_gamma=0.0, r1_every=16, seed=0, sample_every=200,
                checkpoint_every=500, log_every=50, eval_classifier=None, eval_samples=10000)
CPU_DEFAULTS = dict(ngf=32, ndf=32, batch_size=64, eval_samples=2000, steps=3000,
                    time_limit=9.0)  # < 10 min
GPU_EPOCHS = 10


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Train a DCGAN on MNIST, Fashion-MNIST, a folder of images or a synthetic "
                    "set; leaves sample grids, metrics.csv, losses.png and checkpoints in --out.",
        epilog="Flags left out on --resume take their values from the checkpoint.")
    a = p.add_argument
    a("--dataset", choices=SOURCES, help="auto (default): the first of MNIST, Fashion-MNIST "
      "(found on disk, else MNIST downloaded) and the synthetic set")
    a("--data-dir", help="folder of the IDX files (mnist, fashion-mnist; only it is searched) "
      "or of the images (folder); default: search $MINIGAN_DATA, ~/.cache/minigan/<name>, "
      "/usr/share/datasets/<name>")
    a("--limit", type=int, help="use only the first N images")
    a("--image-size", type=int, choices=(28, 64), help="28: dcgan28, 1 channel (default); "
      "64: dcgan64, 3 channels (MNIST-like sets stay 1 channel)")
    a("--batch-size", type=int, help="images per batch (default 128; 64 on a CPU)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="total generator steps, counted from the "
                        f"start of the run, resumes included (CPU default "
                        f"{CPU_DEFAULTS['steps']})")
    length.add_argument("--epochs", type=int, help=f"passes over the data (GPU default "
                        f"{GPU_EPOCHS})")
    a("--lr", type=float, help="Adam learning rate (default 2e-4)")
    a("--beta1", type=float, help="Adam beta1 (default 0.5)")
    a("--beta2", type=float, help="Adam beta2 (default 0.999)")
    a("--nz", type=int, help="latent size (default 100)")
    a("--ngf", type=int, help="generator width (default 64; 32 on a CPU)")
    a("--ndf", type=int, help="discriminator width (default 64; 32 on a CPU)")
    a("--d-steps", type=int, help="k: discriminator steps per generator step, each on a fresh "
      "real batch (default 1)")
    a("--label-smoothing", type=float, help="one-sided: D's target for real images is "
      "1 - this (default 0)")
    a("--r1-gamma", type=float, help="R1 penalty γ/2·E‖∇ₓD(x)‖² on real images; 0 = off "
      "(default 0)")
    a("--r1-every", type=int, help="apply R1 every N steps, scaled by N (lazy regularization; "
      "default 16)")
    a("--device", choices=("auto", "cpu", "cuda"), default="auto",
      help="auto (default): the GPU when there is one")
    a("--seed", type=int, help="seed of the weights, the noise and the data order (default 0)")
    a("--out", default="runs/dcgan", help="output folder (default runs/dcgan)")
    a("--sample-every", type=int, help="write an 8×8 grid of fixed-noise samples every N steps "
      "(default 200; 0: only at the end)")
    a("--checkpoint-every", type=int, help="write a checkpoint every N steps (default 500; "
      "0: only at the end and on Ctrl-C)")
    a("--time-limit", type=float, metavar="MIN", help="stop cleanly (sample grid, checkpoint) "
      f"after MIN minutes of training; --resume auto continues (default: "
      f"{CPU_DEFAULTS['time_limit']:g} on a CPU when neither --steps nor --epochs is given, "
      f"else none)")
    a("--log-every", type=int, help="when stdout is not a terminal, print a progress line every "
      "N steps (default 50)")
    a("--eval-classifier", metavar="CKPT", help="at every checkpoint, log the classifier-FID "
      "of --eval-samples generated images (eval mode, fixed noise of its own seed) against "
      "the real test set (the training images for sets without one) in metrics.csv (fid) "
      "and fid.png; CKPT: a checkpoint of examples/train_classifier.py (default: none)")
    a("--eval-samples", type=int, metavar="N", help="generated images per FID (default 10000; "
      f"{CPU_DEFAULTS['eval_samples']} on a CPU)")
    a("--resume", metavar="PATH|auto", help="continue from a checkpoint, a run folder, or auto: "
      "the newest checkpoint in --out (none there: start afresh)")
    return p.parse_args(argv)


def settle(args, device, saved):
    """Fill in the flags left out: from the checkpoint, else the defaults (for this device)."""
    defaults = dict(DEFAULTS, **({k: CPU_DEFAULTS[k] for k in ("ngf", "ndf", "batch_size",
                                                                "eval_samples")}
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
    for name in ("batch_size", "nz", "ngf", "ndf", "d_steps", "r1_every", "steps", "epochs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise training.RunError(f"--{name.replace('_', '-')} must be at least 1")
    if args.eval_samples < 2:
        raise training.RunError("--eval-samples must be at least 2")
    if not 0 <= args.label_smoothing < 1:
        raise training.RunError("--label-smoothing must be in [0, 1)")
    if args.lr <= 0 or args.r1_gamma < 0 or (args.time_limit or 1) <= 0:
        raise training.RunError("--lr and --time-limit must be positive, --r1-gamma at least 0")


def make_step(G, D, opt_G, opt_D, batches, args, device):
    """The DCGAN step: k discriminator updates, then one generator update."""
    n = args.batch_size
    real_target = minigan.full((n, 1), 1.0 - args.label_smoothing, device=device)
    fake_target = minigan.zeros(n, 1, device=device)
    ones = minigan.ones(n, 1, device=device)

    def step(i):
        r1 = None
        for k in range(args.d_steps):
            x = next(batches)
            z = minigan.randn(n, args.nz, device=device)
            # The last fake batch keeps its graph: the G step below reuses it.
            with minigan.set_grad_enabled(k == args.d_steps - 1):
                fake = G(z)
            penalize = args.r1_gamma > 0 and i % args.r1_every == 0 and k == 0
            if penalize:
                x.requires_grad_()     # R1 differentiates D(x) with respect to x
            d_real, d_fake = D(x), D(fake.detach())
            loss_D = (F.binary_cross_entropy_with_logits(d_real, real_target)
                      + F.binary_cross_entropy_with_logits(d_fake, fake_target))
            total_D = loss_D
            if penalize:
                # NOTE: D's BatchNorm mixes the batch, so ∇ₓ Σ D(x) is not purely per sample.
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
        with minigan.no_grad():
            values = {"loss_D": loss_D.item(), "loss_G": loss_G.item(),
                      "D(x)": F.sigmoid(d_real).mean().item(),
                      "D(G(z))": F.sigmoid(d_fake).mean().item()}
        if args.r1_gamma > 0:
            values["r1"] = None if r1 is None else r1.item()
        return values

    return step


def main(argv=None):
    args = parse_args(argv)
    device = training.resolve_device(args.device)
    ckpt_path = training.find_checkpoint(args.resume, args.out)
    ckpt = training.load_checkpoint(ckpt_path) if ckpt_path else None
    settle(args, device, ckpt["config"] if ckpt else None)
    minigan.manual_seed(args.seed)

    data, batches, steps_per_epoch, total = training.load_batches(args, device, args.d_steps)

    arch = dict(model="dcgan", image_size=args.image_size, nz=args.nz, ngf=args.ngf,
                ndf=args.ndf, nc=data.images.shape[1])
    G, D = training.build_models(arch, device)
    opt_G = minigan.optim.Adam(G.parameters(), lr=args.lr, betas=(args.beta1, args.beta2))
    opt_D = minigan.optim.Adam(D.parameters(), lr=args.lr, betas=(args.beta1, args.beta2))
    fixed_z = minigan.randn(64, args.nz, device=device)

    config = {k: getattr(args, k) for k in DEFAULTS}
    config.update(dataset=data.name, steps=total)
    columns = ["loss_D", "loss_G", "D(x)", "D(G(z))"] + (["r1"] if args.r1_gamma > 0 else [])
    evaluate = training.classifier_evaluation(args, data, G, device, columns)
    run = training.TrainingRun(
        args.out, {"G": G, "D": D}, {"G": opt_G, "D": opt_D}, batches, total, arch, config,
        fixed_z, columns=columns, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every,
        title=f"DCGAN losses ({data.name}, batch {args.batch_size})",
        time_limit=None if args.time_limit is None else 60 * args.time_limit, evaluate=evaluate)
    if ckpt:
        run.restore(ckpt)
        print(f"resuming from {ckpt_path} at step {run.step}")
    print(f"{training.describe_arch(arch)} on {device}: {total} steps of batch "
          f"{args.batch_size} ({total / steps_per_epoch:.1f} epochs), k={args.d_steps}, "
          f"lr {args.lr:g}" + (f", at most {args.time_limit:g} min" if args.time_limit else "")
          + f"; writing to {args.out}", flush=True)
    run.run(make_step(G, D, opt_G, opt_D, batches, args, device))


if __name__ == "__main__":
    training.run_cli(main)
