"""Train the classic fully connected GAN (Goodfellow et al., 2014) on MNIST or Fashion-MNIST.

    python examples/train_gan.py --steps 1500 --out runs/gan

Algorithm 1 of the paper, with the non-saturating generator loss:
  k times:  D ← D - ∇ [BCE(D(x), 1) + BCE(D(G(z)), 0)]     (x, z a fresh minibatch each time)
  once:     G ← G - ∇ BCE(D(G(z)), 1)
D outputs logits, so both losses are BCE with logits. Every ``--sample-every`` steps
the generator's images for 25 fixed noise vectors go to ``OUT/samples_<step>.png``;
at the end the loss curves go to ``OUT/losses.png``. The data, the progress line and
the pictures come from minigan.data and minigan.training, as in train_dcgan.py (the
main job, which adds metrics.csv, checkpoints and exact resume).
"""
import argparse
import os
import sys
import time

try:
    import minigan
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import minigan
import minigan.functional as F
from minigan import training
from minigan.data import SOURCES, BatchStream, DatasetError, load_image_dataset
from minigan.models import MLPDiscriminator, MLPGenerator
from minigan.vis import plot_curves


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=SOURCES, default="auto",
                   help="auto (default): the first of mnist, fashion-mnist found, else synthetic")
    p.add_argument("--data-dir", default=None,
                   help="folder with the {train,t10k}-*-ubyte[.gz] files (default: searched)")
    p.add_argument("--epochs", type=int, default=20, help="passes over the training images")
    p.add_argument("--steps", type=int, default=None, help="stop after this many generator steps")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--b1", type=float, default=0.5, help="Adam beta1")
    p.add_argument("--b2", type=float, default=0.999, help="Adam beta2")
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--d-steps", type=int, default=1,
                   help="discriminator steps per generator step (k of Algorithm 1)")
    p.add_argument("--sample-every", type=int, default=400,
                   help="write a sample grid every N generator steps")
    p.add_argument("--log-every", type=int, default=100, help="print a line every N steps")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--out", default="runs/gan", help="folder for sample grids and losses.png")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto (default): the GPU when there is one")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.d_steps < 1 or args.batch_size < 1:
        raise training.RunError("--d-steps and --batch-size must be at least 1")
    device = training.resolve_device(args.device)
    minigan.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    try:
        data = load_image_dataset(args.dataset, args.data_dir, 28, args.limit, log=print)
    except (DatasetError, ValueError, OSError) as e:
        raise training.RunError(str(e)) from None
    if len(data.images) < args.batch_size * args.d_steps:
        raise training.RunError(f"{len(data.images)} images are fewer than {args.d_steps} "
                                f"batch(es) of {args.batch_size}")
    batches = BatchStream(data.images, args.batch_size, args.seed, device, data.name)
    steps_per_epoch = batches.batches_per_epoch // args.d_steps
    total = args.epochs * steps_per_epoch
    if args.steps is not None:
        total = min(total, args.steps)
    print(f"{data.name}: {len(data.images)} images from {data.source}; {total} steps of batch "
          f"{args.batch_size}, k={args.d_steps}, device {device}", flush=True)

    img_shape = data.images.shape[1:]
    G = MLPGenerator(args.latent_dim, img_shape).to(device)
    D = MLPDiscriminator(img_shape).to(device)
    opt_G = minigan.optim.Adam(G.parameters(), lr=args.lr, betas=(args.b1, args.b2))
    opt_D = minigan.optim.Adam(D.parameters(), lr=args.lr, betas=(args.b1, args.b2))

    n = args.batch_size
    real_label = minigan.ones(n, 1, device=device)
    fake_label = minigan.zeros(n, 1, device=device)
    fixed_z = minigan.randn(25, args.latent_dim, device=device)
    history = {"loss_D": [], "loss_G": []}
    progress = training.Progress(total, every=args.log_every)

    t_start = time.perf_counter()
    for step in range(1, total + 1):
        # ---- D: k steps, each on a fresh real batch and fresh noise ----
        for i in range(args.d_steps):
            x = next(batches)
            z = minigan.randn(n, args.latent_dim, device=device)
            last = i == args.d_steps - 1
            # The last fake batch is kept with its graph: the G step below reuses it.
            with minigan.set_grad_enabled(last):
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

        history["loss_D"].append(loss_D.item())
        history["loss_G"].append(loss_G.item())
        progress.update(step, batches.epoch + 1, {
            "loss_D": history["loss_D"][-1], "loss_G": history["loss_G"][-1],
            "D(x)": minigan.sigmoid(d_real).mean().item(),
            "D(G(z))": minigan.sigmoid(d_fake).mean().item()})
        if step % args.sample_every == 0 or step == total:
            training.save_samples(G, fixed_z, os.path.join(args.out, f"samples_{step:06d}.png"),
                                  nrow=5)
    progress.close()

    elapsed = time.perf_counter() - t_start
    if total:
        print(f"{total} steps in {elapsed:.1f} s: {1000 * elapsed / total:.1f} ms/step")
    plot_curves(history, os.path.join(args.out, "losses.png"),
                title=f"GAN losses ({data.name}, batch {n}, k={args.d_steps})",
                smooth=0.9 if total >= 100 else 0.0, x_start=1)
    print(f"wrote {args.out}/samples_*.png and {args.out}/losses.png")


if __name__ == "__main__":
    training.run_cli(main)
