"""Score a GAN generator with a classifier trained by examples/train_classifier.py.

    python examples/evaluate.py --generator runs/dcgan/generator.npz --classifier runs/clf.npz

Prints the classifier-FID (``minigan.metrics.classifier_fid``) of ``--num-samples``
generated images against the test set; two real-vs-real references: the floor (one
half of the test set against the other) and as many training images as samples
against the test set (FID's bias shrinks as 1/N, so this is the floor at the samples'
size); and the classifier's label histogram of the generated images: a class with
(almost) no images is a mode the generator dropped.

The generator checkpoint is a ``minigan.save`` file holding a generator's state dict,
alone or under the keys "generator", "G", "netG", "state_dict" or "model", one level
down in "models" too (``minigan.training`` checkpoints: {"models": {"G": ..., "D": ...}});
the architecture (DCGAN 28 or 64, or the MLP GAN) and its sizes are read from the
shapes of the weights.
"""
import argparse
import json
import os
import time

import numpy as np

from cli import UsageError, check_ranges, resolve_device, run   # first: it finds minigan
import minigan
from minigan import metrics, training
from minigan.data import SOURCES, to_tanh_range
from minigan.models import DCGANGenerator, MLPGenerator, load_classifier

STATE_KEYS = ("generator", "G", "netG", "models", "state_dict", "model")
LABELS = {"fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                            "Shirt", "Sneaker", "Bag", "Ankle boot")}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--generator", required=True, help="generator checkpoint (minigan.save)")
    p.add_argument("--classifier", required=True,
                   help="classifier checkpoint from examples/train_classifier.py")
    p.add_argument("--dataset", default=None,
                   help="test set to compare with (default: the classifier's dataset)")
    p.add_argument("--data-dir", default=None, help="folder with the t10k-*-ubyte[.gz] files")
    p.add_argument("--num-samples", type=int, default=10000, help="generated images to score")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto (default): the GPU when there is one")
    return p.parse_args(argv)


def _state_dict(checkpoint):
    """The generator's weights inside a checkpoint: the dict itself, or under a known key."""
    if isinstance(checkpoint, dict):
        if checkpoint and all(isinstance(v, minigan.Tensor) for v in checkpoint.values()):
            return checkpoint
        for key in STATE_KEYS:
            if isinstance(checkpoint.get(key), dict):
                return _state_dict(checkpoint[key])
    raise ValueError(f"no generator state dict found (looked for a dict of tensors, alone or "
                     f"under {STATE_KEYS})")


def load_generator(path, device="cpu"):
    """A generator rebuilt from the weight shapes in ``path``, in eval mode, and its latent size."""
    state = _state_dict(minigan.load(path, map_location="cpu"))
    if "main.0.weight" in state:                         # DCGAN: ConvT(nz -> c, k) first
        nz, c, k = state["main.0.weight"].shape[:3]
        image_size = 28 if k == 7 else 64
        ngf = c // (4 if image_size == 28 else 8)
        last = max(int(name.split(".")[1]) for name in state if name.startswith("main."))
        nc = state[f"main.{last}.weight"].shape[1]
        model, latent = DCGANGenerator(image_size, nz=nz, ngf=ngf, nc=nc), nz
    elif "model.0.weight" in state:                      # MLP GAN: Linear(latent -> 128) first
        latent = state["model.0.weight"].shape[1]
        last = max(int(name.split(".")[1]) for name in state if name.startswith("model."))
        pixels = state[f"model.{last}.weight"].shape[0]
        side = int(round(np.sqrt(pixels)))
        model = MLPGenerator(latent, (1, side, side))
    else:
        raise ValueError(f"{path}: unknown generator (first keys {sorted(state)[:4]})")
    model.load_state_dict(state)
    return model.to(device).eval(), latent


def generate(generator, latent, n, batch_size, device):
    """n images from the generator, float32 (n, C, H, W) in [-1, 1], on the CPU."""
    out = []
    with minigan.no_grad():
        for start in range(0, n, batch_size):
            z = minigan.randn(min(batch_size, n - start), latent, device=device)
            out.append(generator(z).cpu().numpy())
    return np.concatenate(out)


def check_settings(args):
    """UsageError for a flag out of its range, or a --json that cannot be written: all
    checked before the scoring."""
    check_ranges(args, at_least_1=("batch_size",))
    if args.num_samples < 2:
        raise UsageError("--num-samples must be at least 2 (a covariance)")
    if args.json is None:
        return
    if args.json == "" or os.path.isdir(args.json):
        raise UsageError(f"--json {args.json!r} is not a file's path")
    try:
        training.check_folder(os.path.dirname(args.json) or ".", what="the JSON file's folder")
    except training.RunFolderError as e:
        raise UsageError(f"{e}; --json takes a file's path") from None


def load_test_and_train(dataset, data_dir):
    """The uint8 test and training images (N, 28, 28) of a set with a test split, read by
    its source (``SOURCES``): in ``data_dir``, else the usual places."""
    source = SOURCES.get(dataset)
    if source is None or not source.test_files:
        labeled = ", ".join(name for name, s in SOURCES.items() if s.test_files)
        raise UsageError(f"{dataset} has no labeled test split; --dataset takes one of "
                         f"{labeled}")
    return (source.load_split("test", data_dir)[0], source.load_split("train", data_dir)[0])


def main(argv=None):
    args = parse_args(argv)
    check_settings(args)
    args.device = resolve_device(args.device)
    minigan.manual_seed(args.seed)
    t_start = time.perf_counter()
    try:
        classifier = load_classifier(args.classifier).to(args.device)
        dataset = args.dataset or classifier.meta.get("dataset", "fashion-mnist")
        generator, latent = load_generator(args.generator, args.device)
        test_images, train_images = load_test_and_train(dataset, args.data_dir)
    except (ValueError, OSError) as e:   # a file not found, damaged, or of another kind
        raise UsageError(" ".join(str(e).split())) from None
    real = to_tanh_range(test_images[:, None])   # (N, 28, 28) -> (N, 1, 28, 28) in [-1, 1]
    fake = generate(generator, latent, args.num_samples, args.batch_size, args.device)
    if fake.shape[1:] != real.shape[1:]:
        raise UsageError(f"generated images of shape {fake.shape[1:]} do not match the "
                         f"{dataset} test images of shape {real.shape[1:]}")
    print(f"classifier {args.classifier} ({classifier.meta.get('dataset')}, test accuracy "
          f"{classifier.meta.get('test_accuracy', float('nan')):.4f}); generator "
          f"{args.generator} ({type(generator).__name__}, latent {latent}); "
          f"{len(fake)} samples vs {len(real)} {dataset} test images", flush=True)

    f_real = metrics.classifier_features(classifier, real, args.batch_size)
    f_fake = metrics.classifier_features(classifier, fake, args.batch_size)
    score = metrics.fid(f_fake, f_real)
    half = len(f_real) // 2
    floor = metrics.fid(f_real[:half], f_real[half:])
    f_train = metrics.classifier_features(classifier, train_images[:len(fake)], args.batch_size)
    baseline = metrics.fid(f_train, f_real)
    hist = metrics.label_histogram(classifier, fake, args.batch_size)

    names = LABELS.get(dataset, [str(c) for c in range(len(hist))])
    expected = len(fake) / len(hist)
    print(f"classifier-FID {score:.3f}  (real vs real: {len(f_train)} training images vs the "
          f"test set {baseline:.3f}; test half vs half {floor:.3f})")
    print("label histogram of the generated images:")
    for c, count in enumerate(hist):
        flag = "  <- missing" if count < 0.1 * expected else ""
        print(f"  {c} {names[c]:12s} {count:6d}  {count / len(fake):6.1%}{flag}")
    missing = [int(c) for c in np.flatnonzero(hist < 0.1 * expected)]
    print(f"{len(missing)} of {len(hist)} classes under 10% of their share{': ' if missing else ''}"
          f"{', '.join(names[c] for c in missing)}  ({time.perf_counter() - t_start:.0f} s)")
    results = dict(fid=score, fid_floor=floor, fid_train_vs_test=baseline,
                   histogram=[int(c) for c in hist], missing=missing, num_samples=len(fake),
                   dataset=dataset, generator=args.generator, classifier=args.classifier)
    if args.json:
        training.make_folder(args.json, parent=True)   # checked: RunFolderError only on a race
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    run(main)
