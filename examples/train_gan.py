"""Train the classic fully connected GAN (Goodfellow et al., 2014) on MNIST or Fashion-MNIST.

    python examples/train_gan.py --steps 1500 --out runs/gan

Algorithm 1 of the paper, with the non-saturating generator loss:
  k times:  D ← D - ∇ [BCE(D(x), 1) + BCE(D(G(z)), 0)]     (x, z a fresh minibatch each time)
  once:     G ← G - ∇ BCE(D(G(z)), 1)
D outputs logits, so both losses are BCE with logits. Every ``--sample-every`` steps
the generator's images for 25 fixed noise vectors go to ``OUT/samples_<step>.png``;
at the end the loss curves go to ``OUT/losses.png``.
"""
import argparse
import os
import sys
import time

import numpy as np

try:
    import minigan
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import minigan
import minigan.functional as F
from minigan.data import DATASETS, batches, find_dataset, load_mnist_like, to_unit_range
from minigan.models import MLPDiscriminator, MLPGenerator
from minigan.vis import plot_curves, save_image_grid


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="default: the first of mnist, fashion-mnist that find_dataset finds")
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
    p.add_argument("--device", default="cuda" if minigan.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def pick_dataset(args):
    """(name, folder): the one asked for, else the first found (MNIST first)."""
    names = [args.dataset] if args.dataset else list(DATASETS)
    for name in names:
        folder = find_dataset(name, args.data_dir)
        if folder is not None:
            return name, folder
    # Nothing found: let load_mnist_like raise its FileNotFoundError listing the places.
    return names[0], args.data_dir


def real_batches(images, batch_size, rng):
    """Shuffled batches forever; yields (epoch, batch)."""
    epoch = 0
    while True:
        for batch in batches(images, batch_size, rng):
            yield epoch, batch
        epoch += 1


def main(argv=None):
    args = parse_args(argv)
    if args.d_steps < 1 or args.batch_size < 1:
        sys.exit("--d-steps and --batch-size must be at least 1")
    minigan.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    name, folder = pick_dataset(args)
    images, _ = load_mnist_like(name, folder)
    if args.limit is not None:
        images = images[:args.limit]
    images = to_unit_range(images)                       # (N, 1, 28, 28) float32 in [-1, 1]
    if len(images) < args.batch_size:
        sys.exit(f"{len(images)} images are fewer than one batch of {args.batch_size}")
    steps_per_epoch = len(images) // args.batch_size // args.d_steps
    total = args.epochs * steps_per_epoch
    if args.steps is not None:
        total = min(total, args.steps)
    print(f"{name}: {len(images)} images from {folder}; {total} steps of batch {args.batch_size}, "
          f"k={args.d_steps}, device {args.device}", flush=True)

    img_shape = images.shape[1:]
    G = MLPGenerator(args.latent_dim, img_shape).to(args.device)
    D = MLPDiscriminator(img_shape).to(args.device)
    opt_G = minigan.optim.Adam(G.parameters(), lr=args.lr, betas=(args.b1, args.b2))
    opt_D = minigan.optim.Adam(D.parameters(), lr=args.lr, betas=(args.b1, args.b2))

    n = args.batch_size
    real_label = minigan.ones(n, 1, device=args.device)
    fake_label = minigan.zeros(n, 1, device=args.device)
    fixed_z = minigan.randn(25, args.latent_dim, device=args.device)
    data = real_batches(images, n, rng)
    history = {"loss_D": [], "loss_G": []}

    def sample(step):
        G.eval()
        with minigan.no_grad():
            fake = G(fixed_z)
        G.train()
        path = os.path.join(args.out, f"samples_{step:06d}.png")
        save_image_grid(fake, path, nrow=5, pad_value=96, scale=2)
        return path

    t_log = time.perf_counter()
    t_start = t_log
    for step in range(1, total + 1):
        # ---- D: k steps, each on a fresh real batch and fresh noise ----
        for i in range(args.d_steps):
            epoch, batch = next(data)
            x = minigan.tensor(batch, device=args.device)
            z = minigan.randn(n, args.latent_dim, device=args.device)
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
        if step % args.log_every == 0 or step == total:
            now = time.perf_counter()
            done = args.log_every if step % args.log_every == 0 else step % args.log_every
            p_real = minigan.sigmoid(d_real).mean().item()
            p_fake = minigan.sigmoid(d_fake).mean().item()
            print(f"step {step:6d}  epoch {epoch:3d}  loss_D {history['loss_D'][-1]:.4f}  "
                  f"loss_G {history['loss_G'][-1]:.4f}  D(x) {p_real:.3f}  "
                  f"D(G(z)) {p_fake:.3f}  {done / (now - t_log):.1f} it/s", flush=True)
            t_log = now
        if step % args.sample_every == 0 or step == total:
            sample(step)

    elapsed = time.perf_counter() - t_start
    if total:
        print(f"{total} steps in {elapsed:.1f} s: {1000 * elapsed / total:.1f} ms/step")
    plot_curves(history, os.path.join(args.out, "losses.png"),
                title=f"GAN losses ({name}, batch {n}, k={args.d_steps})",
                smooth=0.9 if total >= 100 else 0.0, x_start=1)
    print(f"wrote {args.out}/samples_*.png and {args.out}/losses.png")


if __name__ == "__main__":
    main()
