"""Train the small CNN classifier whose features score GAN samples (``minigan.metrics``).

    python examples/train_classifier.py --dataset fashion-mnist --epochs 5 --out runs/clf.npz

Conv-BN-ReLU-MaxPool twice, Linear-ReLU (the features), Dropout, Linear (the logits);
cross-entropy, Adam with a cosine learning-rate decay. Images are scaled to [-1, 1],
as the GANs produce them. The loop is ``minigan.training.Trainer``'s, with its progress line
and NaN guard, as the GAN examples'. After every epoch it prints the test accuracy and saves
the checkpoint (``minigan.models.save_classifier``: weights, architecture, dataset, test
accuracy), which ``minigan.models.load_classifier`` reads back.
"""
import argparse
import itertools
import math
import os
import time

import numpy as np

from cli import UsageError, check_ranges, resolve_device, run   # first: it finds minigan
import minigan
import minigan.functional as F
from minigan import training
from minigan.data import SOURCES, batches, to_tanh_range
from minigan.models import Classifier, load_classifier, save_classifier

# the sets with labels and a test split: their sources declare test files
LABELED = tuple(name for name, source in SOURCES.items() if source.test_files)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=LABELED, default=None,
                   help=f"default: the first of {', '.join(LABELED)} found on disk")
    p.add_argument("--data-dir", default=None,
                   help="folder with the {train,t10k}-*-ubyte[.gz] files (default: searched)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3, help="Adam's initial learning rate")
    p.add_argument("--width", type=int, default=32, help="channels of the first conv")
    p.add_argument("--hidden", type=int, default=128, help="size of the feature layer")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--log-every", type=int, default=50, help="print a line every N steps")
    p.add_argument("--out", default=None,
                   help="checkpoint path (default: runs/classifier_<dataset>.npz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto (default): the GPU when there is one")
    return p.parse_args(argv)


def check_settings(args):
    """UsageError for a flag out of its range: all are checked before anything is read."""
    check_ranges(args, at_least_1=("epochs", "width", "hidden", "limit", "log_every"),
                 positive=("lr",), fraction=("dropout",))
    if args.batch_size < 2:
        raise UsageError("--batch-size must be at least 2 (BatchNorm)")
    if args.out == "":
        raise UsageError("--out is empty: give it the checkpoint's path, or leave it out")


def check_out(out):
    """UsageError unless ``out`` can take the checkpoint: a new file in a folder that can be
    made, or an earlier classifier checkpoint (replaced). Nothing is made."""
    if os.path.isdir(out):
        raise UsageError(f"{out} is a folder; --out takes the checkpoint's path")
    if os.path.exists(out):
        try:
            load_classifier(out)
        except (ValueError, OSError):   # CheckpointError is a ValueError
            raise UsageError(f"{out} exists and is not a classifier checkpoint; pass --out a "
                             f"new file, or a classifier checkpoint to replace") from None
    try:
        training.check_folder(os.path.dirname(out) or ".", what="the checkpoint's folder")
    except training.RunFolderError as e:
        raise UsageError(f"{e}; --out takes the checkpoint's path") from None


def load_dataset(args):
    """(name, folder, (train images, labels), (test images, labels)): the set asked for,
    else the first found (MNIST first); its source (``SOURCES``) reads the IDX files."""
    names = [args.dataset] if args.dataset else list(LABELED)
    first = None
    for name in names:
        try:
            train_images, train_labels, folder = SOURCES[name].load_split("train", args.data_dir)
        except FileNotFoundError as e:   # the next set; the first one's error lists the places
            first = first or e
            continue
        test_images, test_labels, _ = SOURCES[name].load_split("test", folder)
        return name, folder, (train_images, train_labels), (test_images, test_labels)
    raise first


def accuracy(model, images, labels, device, batch_size=1000):
    """The fraction of ``images`` (float32 NCHW) that the model, in eval mode, labels right."""
    model.eval()
    correct = 0
    with minigan.no_grad():
        for start in range(0, len(images), batch_size):
            x = minigan.tensor(images[start:start + batch_size], device=device)
            predicted = minigan.argmax(model(x), 1).cpu().numpy()
            correct += int((predicted == labels[start:start + batch_size]).sum())
    model.train()
    return correct / len(images)


class EndOfEpoch:
    """An extension of this script: at the end of each epoch, the test accuracy, the
    checkpoint (``save_classifier``) and a line with the epoch's mean training loss and
    accuracy (the mean of its steps': their batches are all the same size)."""

    def __init__(self, model, x_test, y_test, out, args, train_images):
        self.model, self.x_test, self.y_test, self.out = model, x_test, y_test, out
        self.args, self.train_images = args, train_images
        self.rows, self.test_acc = [], None

    def initialize(self, trainer):
        self.started = time.perf_counter()

    def observe(self, trainer, row):
        self.rows.append(row.values)

    def __call__(self, trainer):
        epoch = trainer.epoch()
        loss, acc = (np.mean([r[k] for r in self.rows]) for k in ("loss", "train acc"))
        self.test_acc = accuracy(self.model, self.x_test, self.y_test, self.args.device)
        save_classifier(self.model, self.out, dataset=self.args.dataset, epochs=epoch,
                        test_accuracy=self.test_acc, seed=self.args.seed,
                        train_images=self.train_images)
        trainer.outputs["classifier"] = self.out
        print(f"epoch {epoch:2d} done in {time.perf_counter() - self.started:.0f} s: "
              f"train loss {loss:.4f}, train acc {acc:.4f}, test acc {self.test_acc:.4f}; "
              f"saved {self.out}", flush=True)
        self.rows, self.started = [], time.perf_counter()


def main(argv=None):
    args = parse_args(argv)
    check_settings(args)
    args.device = resolve_device(args.device)
    if args.out is not None:
        check_out(args.out)   # before the data is read: a bad path fails at once

    try:
        args.dataset, folder, (train_images, train_labels), (test_images, test_labels) = \
            load_dataset(args)
    except (ValueError, OSError) as e:   # not found, or a damaged file
        text = " ".join(str(e).split())   # the places searched, on one line
        raise UsageError(f"{text} (see --dataset and --data-dir)") from None
    if args.limit is not None:
        train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
    steps_per_epoch = len(train_images) // args.batch_size
    if steps_per_epoch == 0:
        raise UsageError(f"{len(train_images)} training images are fewer than one batch of "
                         f"{args.batch_size}")
    out = args.out
    if out is None:   # the default path, now that the dataset is known
        out = os.path.join("runs", f"classifier_{args.dataset}.npz")
        check_out(out)
    # (N, 28, 28) -> (N, 1, 28, 28) in [-1, 1]
    x_train, x_test = to_tanh_range(train_images[:, None]), to_tanh_range(test_images[:, None])
    y_train, y_test = train_labels.astype(np.int64), test_labels.astype(np.int64)
    minigan.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    training.make_folder(out, parent=True)   # checked: RunFolderError only on a race

    total = args.epochs * steps_per_epoch
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    model = Classifier(width=args.width, hidden=args.hidden, num_classes=num_classes,
                       in_channels=x_train.shape[1], image_size=x_train.shape[2],
                       dropout=args.dropout).to(args.device)
    opt = minigan.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.dataset}: {len(x_train)} training and {len(x_test)} test images from "
          f"{folder}; {args.epochs} epochs of {steps_per_epoch} steps, batch "
          f"{args.batch_size}, {n_params} parameters, device {args.device}", flush=True)

    def epochs():
        """(epoch, indices of a batch): each epoch shuffled by ``rng``, its short batch dropped."""
        for epoch in itertools.count(1):
            for index in batches(np.arange(len(x_train)), args.batch_size, rng):
                yield epoch, index
    stream, epoch = epochs(), [1]

    def step(i):
        """Cross-entropy on a batch; Adam's lr decays from --lr to 0 over the run (cosine)."""
        epoch[0], index = next(stream)
        opt.param_groups[0]["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * (i - 1) / total))
        x = minigan.tensor(x_train[index], device=args.device)
        t = minigan.tensor(y_train[index], device=args.device)
        logits = model(x)
        loss = F.cross_entropy(logits, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        predicted = minigan.argmax(logits, 1).cpu().numpy()
        return {"loss": loss.detach(), "train acc": float((predicted == y_train[index]).mean())}

    t_start = time.perf_counter()
    trainer = training.Trainer(step, total, epoch=lambda: epoch[0])
    trainer.extend(training.NonFiniteGuard())
    end_of_epoch = trainer.extend(EndOfEpoch(model, x_test, y_test, out, args, len(x_train)),
                                  training.Interval(steps_per_epoch, end=False))
    trainer.extend(training.ProgressLine(args.log_every))
    try:
        trainer.run()
    except training.Interrupted:
        # NOTE: no --resume here: a stopped run is started again; the checkpoint of the
        # last whole epoch stays. cli.run says 'interrupted' (exit 130).
        raise KeyboardInterrupt from None
    test_acc = end_of_epoch.test_acc
    print(f"{args.dataset}: test accuracy {test_acc:.4f} after {args.epochs} epochs "
          f"({time.perf_counter() - t_start:.0f} s); checkpoint {out}")
    return test_acc


if __name__ == "__main__":
    run(main)
