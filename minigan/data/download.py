"""Downloading MNIST and Fashion-MNIST from public mirrors into ``cache_dir(name)``.

Every file's SHA-256 is checked before it is put in place; a failed or corrupt
download leaves nothing behind.
"""
import hashlib
import os
import tempfile
import urllib.error
import urllib.request

from .errors import DownloadError
from .mnist import DATASETS, cache_dir, idx_file_names

# Public mirrors, tried in order; a file is fetched as <base><file name>.
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                      "data/fashion/"],
}
# SHA-256 of the original gzipped files, as published (TFDS, torchvision's mirrors).
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}


def mirrors_for(name):
    """The base URLs to try for ``name``.

    ``$MINIGAN_MIRRORS`` (URLs separated by spaces or commas; ``{name}`` in one is
    replaced by the dataset's name) overrides the built-in list, for a local mirror.
    """
    env = os.environ.get("MINIGAN_MIRRORS")
    if env:
        return [u.replace("{name}", name) for u in env.replace(",", " ").split()]
    return list(MIRRORS[name])


def download_file(urls, dest, sha256, timeout=30, log=None):
    """Fetch the first of ``urls`` whose bytes have SHA-256 ``sha256`` to ``dest``; return ``dest``.

    Each try streams into a temporary file beside ``dest``; a file is renamed
    into place only when whole and its hash matches, else deleted and the next
    URL tried. Raises DownloadError naming every URL and what went wrong.
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    failures = []
    for url in urls:
        if log:
            log(f"downloading {url}")
        fd, tmp = tempfile.mkstemp(prefix=".part-" + os.path.basename(dest) + "-", dir=folder)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as r:
                while chunk := r.read(1 << 20):
                    digest.update(chunk)
                    f.write(chunk)
            got = digest.hexdigest()
            if got != sha256:
                failures.append(f"{url}: SHA-256 {got[:12]}... is not the expected "
                                f"{sha256[:12]}... (corrupt or changed file)")
                continue
            os.replace(tmp, dest)
            return dest
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP {e.code} {e.reason}")
        except (urllib.error.URLError, OSError, ValueError) as e:
            failures.append(f"{url}: {getattr(e, 'reason', None) or e}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise DownloadError(f"could not download {os.path.basename(dest)}: " + "; ".join(failures))


def download_dataset(name, split="train", folder=None, mirrors=None, checksums=None, log=None,
                     timeout=30):
    """Download the images and labels of one split of ``name`` into ``folder``; return ``folder``.

    ``folder`` defaults to ``cache_dir(name)``, ``mirrors`` to ``mirrors_for(name)`` and
    ``checksums`` ({file name: SHA-256}) to ``SHA256[name]``. Files already there are kept.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    folder = folder or cache_dir(name)
    mirrors = mirrors or mirrors_for(name)
    checksums = checksums or SHA256[name]
    for base in idx_file_names(split):
        file = base + ".gz"
        dest = os.path.join(folder, file)
        if not os.path.isfile(dest):
            download_file([m.rstrip("/") + "/" + file for m in mirrors], dest, checksums[file],
                          timeout=timeout, log=log)
    return folder
