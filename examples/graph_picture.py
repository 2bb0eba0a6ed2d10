"""A picture of the graph that one DCGAN discriminator step records, and where the step's
time goes.

    python examples/graph_picture.py                   # writes dcgan_d_step.dot (and .png)
    python examples/graph_picture.py --out docs/images --ndf 8 --profile

It builds a dcgan28 pair, runs D on a real batch and on G's samples (detached: the D
step does not reach G), and writes the graph of loss_D as Graphviz DOT text
(``minigan.autograd.to_dot``). With the ``dot`` program on the PATH (Debian and
Ubuntu: ``apt-get install graphviz``) it renders the PNG too; without it, it says how.
With ``--profile`` it then times one whole training step (D's, then G's) with
``minigan.autograd.profile`` and prints the table.
"""
import argparse
import os
import shutil
import subprocess

from cli import UsageError, resolve_device, run   # first: it finds minigan in a checkout
import minigan
import minigan.functional as F
from minigan.models import DCGANDiscriminator, DCGANGenerator


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Draw the graph of a DCGAN discriminator step; "
                                            "optionally profile a training step.")
    p.add_argument("--out", default=".", help="output folder (default: here)")
    p.add_argument("--name", default="dcgan_d_step", help="file name, without .dot / .png")
    p.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--ndf", type=int, default=64, help="D's width (default 64)")
    p.add_argument("--ngf", type=int, default=64, help="G's width (default 64)")
    p.add_argument("--profile", action="store_true", help="also print the profile of one step")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu",
                   help="cpu (default), cuda, or auto: the GPU when there is one")
    args = p.parse_args(argv)
    if min(args.batch, args.ndf, args.ngf) < 1:
        raise UsageError("--batch, --ndf and --ngf must be at least 1")
    return args


def batch_and_samples(G, batch, device):
    """A batch of real images (uniform noise in [-1, 1] will do for a picture) and G's samples."""
    real = minigan.rand(batch, 1, 28, 28, device=device) * 2 - 1
    return real, G(minigan.randn(batch, 100, device=device))


def discriminator_loss(D, real, fake):
    """loss_D: real images labelled 1, G's samples labelled 0, and its inputs by name. The
    samples are detached: D's step does not reach G."""
    fake = fake.detach()
    batch, device = real.shape[0], real.device
    ones, zeros = minigan.ones(batch, 1, device=device), minigan.zeros(batch, 1, device=device)
    loss = (F.binary_cross_entropy_with_logits(D(real), ones)
            + F.binary_cross_entropy_with_logits(D(fake), zeros))
    return loss, {"real": real, "G(z).detach()": fake, "ones": ones, "zeros": zeros}


def named_d_step(G, D, batch, device):
    """loss_D, and the names to_dot gives its leaves: the inputs and D's parameters."""
    loss, inputs = discriminator_loss(D, *batch_and_samples(G, batch, device))
    return loss, {**inputs, **{f"D.{n}": p for n, p in D.named_parameters()}, "loss_D": loss}


def write_picture(loss, names, out, name):
    """Write <name>.dot, and <name>.png where Graphviz is installed; say which."""
    os.makedirs(out, exist_ok=True)
    dot_path, png_path = os.path.join(out, name + ".dot"), os.path.join(out, name + ".png")
    with open(dot_path, "w") as f:
        f.write(minigan.autograd.to_dot(loss, params=names))
    dot = shutil.which("dot")
    if dot is None:
        print(f"wrote {dot_path}; to draw it, install Graphviz (apt-get install graphviz) and "
              f"run: dot -Tpng {dot_path} -o {png_path}")
        return
    subprocess.run([dot, "-Tpng", "-Gdpi=72", dot_path, "-o", png_path], check=True)
    print(f"wrote {dot_path} and {png_path}")


def training_step(G, D, opt_G, opt_D, batch, device):
    """One DCGAN step, as train_dcgan.py takes it: D on real and on G's samples, then G
    against D on the same samples."""
    real, fake = batch_and_samples(G, batch, device)
    opt_D.zero_grad()
    discriminator_loss(D, real, fake)[0].backward()
    opt_D.step()
    opt_G.zero_grad()
    F.binary_cross_entropy_with_logits(D(fake), minigan.ones(batch, 1, device=device)).backward()
    opt_G.step()


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)
    minigan.manual_seed(0)
    G = DCGANGenerator(28, ngf=args.ngf).to(device)
    D = DCGANDiscriminator(28, ndf=args.ndf).to(device)
    write_picture(*named_d_step(G, D, args.batch, device), args.out, args.name)
    if args.profile:
        opt_G = minigan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_D = minigan.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        for _ in range(2):   # warm-up: caches, memory, kernels
            training_step(G, D, opt_G, opt_D, args.batch, device)
        with minigan.autograd.profile() as prof:
            training_step(G, D, opt_G, opt_D, args.batch, device)
        print(f"\none dcgan28 training step, batch {args.batch}, ngf {args.ngf}, "
              f"ndf {args.ndf}, on {device}:")
        print(prof.table())


if __name__ == "__main__":
    run(main)
