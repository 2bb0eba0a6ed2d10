"""Draw from a trained generator: a grid of samples and a latent interpolation strip.

    python examples/generate.py runs/dcgan                  # the newest checkpoint there
    python examples/generate.py runs/dcgan/checkpoint-0001200.npz --n 100 --seed 3

Writes ``generated.png`` (N samples, ``--nrow`` per row) and ``interpolation.png``
(``--rows`` rows, each walking ``--frames`` steps from one latent vector to
another along the great circle, as the Gaussian prior has nearly all its mass
near a sphere) into ``--out`` (default: the checkpoint's folder). The generator
runs in eval mode: BatchNorm uses its running statistics.
"""
import argparse
import os

import numpy as np

from cli import UsageError, resolve_device, run   # first: it finds minigan in a checkout
import minigan
from minigan import training


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Write samples and a latent interpolation strip "
                                            "from a training checkpoint.")
    p.add_argument("checkpoint", nargs="?", default="runs/dcgan",
                   help="a checkpoint-*.npz, or a run folder (its newest); default runs/dcgan")
    p.add_argument("--n", type=int, default=64, help="samples in the grid (default 64)")
    p.add_argument("--nrow", type=int, default=8, help="samples per row (default 8)")
    p.add_argument("--rows", type=int, default=4, help="interpolations (default 4)")
    p.add_argument("--frames", type=int, default=10, help="images per interpolation (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent vectors (default 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto (default): the GPU when there is one")
    p.add_argument("--out", help="output folder (default: the checkpoint's folder)")
    return p.parse_args(argv)


def slerp(z0, z1, t):
    """Spherical interpolation between rows of z0 and z1, at fractions t: (R, T, nz)."""
    cos = np.sum(z0 * z1, 1) / (np.linalg.norm(z0, axis=1) * np.linalg.norm(z1, axis=1))
    omega = np.arccos(np.clip(cos, -1, 1))[:, None, None]                 # (R, 1, 1)
    t = t[None, :, None]                                                  # (1, T, 1)
    # NOTE: sin(omega) -> 0 for nearly parallel vectors: fall back to the straight line.
    safe = np.maximum(np.sin(omega), 1e-6)
    a = np.where(omega > 1e-3, np.sin((1 - t) * omega) / safe, 1 - t)
    b = np.where(omega > 1e-3, np.sin(t * omega) / safe, t)
    return a * z0[:, None] + b * z1[:, None]


def main(argv=None):
    args = parse_args(argv)
    if min(args.n, args.nrow, args.rows, args.frames) < 1:
        raise UsageError("--n, --nrow, --rows and --frames must be at least 1")
    device = resolve_device(args.device)
    if args.out is not None:   # RunFolderError, and its hint, before anything is read
        training.check_folder(args.out, what="an output folder")
    try:
        path = training.find_checkpoint(args.checkpoint, args.checkpoint)
    except training.CheckpointNotFound as e:   # its hint speaks of --resume: not ours
        raise UsageError(str(e)) from None
    if path is None:
        raise UsageError(f"{args.checkpoint}: no checkpoint there")
    try:
        ckpt = training.load_checkpoint(path)
    except training.BadCheckpoint as e:   # its hint speaks of --resume: not ours
        raise UsageError(str(e)) from None
    try:
        G, _ = minigan.models.build_gan(ckpt["arch"], device)
        G.load_state_dict(ckpt["models"]["G"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise UsageError(f"checkpoint {path} has no generator that fits its own architecture "
                         f"({e})") from None
    out = args.out or os.path.dirname(os.path.abspath(path))
    training.make_folder(out)

    rng = np.random.default_rng(args.seed)
    nz = ckpt["arch"]["nz"]
    z = rng.standard_normal((args.n, nz)).astype(np.float32)
    grid = training.save_samples(G, minigan.tensor(z, device=device),
                                 os.path.join(out, "generated.png"), nrow=args.nrow)
    ends = rng.standard_normal((2, args.rows, nz))
    path_z = slerp(ends[0], ends[1], np.linspace(0, 1, args.frames))    # (rows, frames, nz)
    strip = training.save_samples(
        G, minigan.tensor(path_z.reshape(-1, nz).astype(np.float32), device=device),
        os.path.join(out, "interpolation.png"), nrow=args.frames)
    print(f"step {ckpt['step']} of {path}: wrote {grid} ({args.n} samples) and {strip} "
          f"({args.rows} interpolations of {args.frames} frames)")


if __name__ == "__main__":
    run(main)
