"""Train the small CNN classifier whose features score GAN samples (``minigan.metrics``).

    python examples/train_classifier.py --dataset fashion-mnist --epochs 5 --out runs/clf.npz

Conv-BN-ReLU-MaxPool twice, Linear-ReLU (the features), Dropout, Linear (the logits);
cross-entropy, Adam with a cosine learning-rate decay. Images are scaled to [-1, 1],
as the GANs produce them. After every epoch it prints the test accuracy and saves the
checkpoint (``minigan.models.save_classifier``: weights, architecture, dataset, test
accuracy), which ``minigan.models.load_classifier`` reads back.
"""
import argparse
import math
import os
import time

import numpy as np

from cli import UsageError, resolve_device, run   # first: it finds minigan in a checkout
import minigan
import minigan.functional as F
from minigan.data import DATASETS, find_dataset, load_mnist_like, to_unit_range
from minigan.models import Classifier, save_classifier


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="default: the first of mnist, fashion-mnist that find_dataset finds")
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


def pick_dataset(args):
    """(name, folder): the one asked for, else the first found (MNIST first)."""
    names = [args.dataset] if args.dataset else list(DATASETS)
    for name in names:
        folder = find_dataset(name, args.data_dir)
        if folder is not None:
            return name, folder
    # Nothing found: let load_mnist_like raise its FileNotFoundError listing the places.
    return names[0], args.data_dir


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


def main(argv=None):
    args = parse_args(argv)
    args.device = resolve_device(args.device)
    if args.epochs < 1 or args.batch_size < 2:
        raise UsageError("--epochs must be at least 1 and --batch-size at least 2 (BatchNorm)")
    minigan.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    name, folder = pick_dataset(args)
    try:
        train_images, train_labels = load_mnist_like(name, folder, "train")
        test_images, test_labels = load_mnist_like(name, folder, "test")
    except (ValueError, OSError) as e:   # not found, or a damaged file
        text = " ".join(str(e).split())   # the places searched, on one line
        raise UsageError(f"{text} (see --dataset and --data-dir)") from None
    if args.limit is not None:
        train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
    x_train, x_test = to_unit_range(train_images), to_unit_range(test_images)  # (N, 1, 28, 28)
    y_train, y_test = train_labels.astype(np.int64), test_labels.astype(np.int64)
    out = args.out or os.path.join("runs", f"classifier_{name}.npz")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)

    steps_per_epoch = len(x_train) // args.batch_size
    if steps_per_epoch == 0:
        raise UsageError(f"{len(x_train)} training images are fewer than one batch of "
                         f"{args.batch_size}")
    total = args.epochs * steps_per_epoch
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    model = Classifier(width=args.width, hidden=args.hidden, num_classes=num_classes,
                       in_channels=x_train.shape[1], image_size=x_train.shape[2],
                       dropout=args.dropout).to(args.device)
    opt = minigan.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{name}: {len(x_train)} training and {len(x_test)} test images from {folder}; "
          f"{args.epochs} epochs of {steps_per_epoch} steps, batch {args.batch_size}, "
          f"{n_params} parameters, device {args.device}", flush=True)

    step, logged, t_start = 0, 0, time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t_epoch = t_log = time.perf_counter()
        order = rng.permutation(len(x_train))
        seen = correct = 0
        loss_sum = 0.0
        for i in range(steps_per_epoch):
            # cosine decay from lr to 0 over the whole run
            opt.param_groups[0]["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            index = order[i * args.batch_size:(i + 1) * args.batch_size]
            x = minigan.tensor(x_train[index], device=args.device)
            t = minigan.tensor(y_train[index], device=args.device)
            logits = model(x)
            loss = F.cross_entropy(logits, t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1

            seen += len(index)
            loss_sum += loss.item() * len(index)
            correct += int((minigan.argmax(logits, 1).cpu().numpy() == y_train[index]).sum())
            if step % args.log_every == 0 or i == steps_per_epoch - 1:
                now = time.perf_counter()
                print(f"epoch {epoch:2d}  step {step:6d}/{total}  loss {loss_sum / seen:.4f}  "
                      f"train acc {correct / seen:.4f}  "
                      f"{1000 * (now - t_log) / (step - logged):.0f} ms/step", flush=True)
                t_log, logged = now, step

        test_acc = accuracy(model, x_test, y_test, args.device)
        save_classifier(model, out, dataset=name, test_accuracy=test_acc, epochs=epoch,
                        seed=args.seed, train_images=len(x_train))
        print(f"epoch {epoch:2d} done in {time.perf_counter() - t_epoch:.0f} s: "
              f"train loss {loss_sum / seen:.4f}, train acc {correct / seen:.4f}, "
              f"test acc {test_acc:.4f}; saved {out}", flush=True)

    print(f"{name}: test accuracy {test_acc:.4f} after {args.epochs} epochs "
          f"({time.perf_counter() - t_start:.0f} s); checkpoint {out}")
    return test_acc


if __name__ == "__main__":
    run(main)
