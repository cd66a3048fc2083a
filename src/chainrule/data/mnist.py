"""MNIST and Fashion-MNIST read from the official gzip IDX files, downloaded only when asked."""

import gzip
import hashlib
import os
import tempfile
import zlib
from pathlib import Path
from types import MappingProxyType

import numpy as np

from chainrule.data.dataset import ArrayDataset

IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801  # unsigned bytes, 3 or 1 dimensions
DOWNLOAD_TIMEOUT_S = 60


def cache_root():
    """``$XDG_CACHE_HOME/chainrule``, or ``~/.cache/chainrule`` when the variable is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "chainrule"


def sha256_of(path):
    """Hex SHA-256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_idx(data, magic, path):
    """The array stored in the uncompressed IDX bytes ``data``, checked strictly.

    Layout: 4-byte big-endian magic (0x0803 images, 0x0801 labels; the low byte is the number
    of dimensions), one big-endian uint32 per dimension, then exactly prod(dims) uint8 values.
    Returns a uint8 array of shape dims; ``path`` only names the file in errors.
    """
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    found = int.from_bytes(data[:4], "big")
    if len(data) >= 4 and found != magic:
        raise ValueError(f"{path} is not the expected IDX file: magic {found:#010x}, "
                         f"expected {magic:#010x}")
    if len(data) < header:
        raise ValueError(f"{path} is truncated: {len(data)} bytes, shorter than its IDX header")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    size = int(np.prod(dims))
    if len(data) != header + size:
        raise ValueError(f"{path} is damaged: its header promises {dims} values "
                         f"({header + size} bytes) but it holds {len(data)} bytes")
    return np.frombuffer(data, np.uint8, size, header).reshape(dims)


def read_idx_gz(path, magic):
    """``parse_idx`` of the gzip-compressed file at ``path``."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path} is not a readable gzip file ({err})") from None
    return parse_idx(data, magic, path)


def download(url, path, timeout=DOWNLOAD_TIMEOUT_S):
    """Fetch ``url`` into ``path`` through a temporary file, so no partial file is left."""
    import urllib.request  # only downloads need it

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as src:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                out.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class MNIST(ArrayDataset):
    """MNIST handwritten digits: x (1, 28, 28) float32 in [0, 1], t int64 in 0..9.

    60,000 training or 10,000 test images (``train``), read from the four official files
    ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` in ``<root>/mnist/``; ``root``
    defaults to ``$XDG_CACHE_HOME/chainrule`` or ``~/.cache/chainrule``. Each file's SHA-256
    must equal the official digest. Missing files are fetched from the mirrors only with
    ``download=True``; otherwise the error names the file, the folder and the URL.
    """

    folder = "mnist"
    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    # SHA-256 of the official gzip files, as published in torchvision's prototype datasets.
    sha256 = MappingProxyType({
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    })
    classes = tuple(str(d) for d in range(10))

    def __init__(self, root=None, train=True, download=False, transform=None):
        self.root = (Path(root).expanduser() if root is not None else cache_root()) / self.folder
        self.train = bool(train)
        prefix = "train" if self.train else "t10k"
        images_file = self._fetch(f"{prefix}-images-idx3-ubyte.gz", download)
        labels_file = self._fetch(f"{prefix}-labels-idx1-ubyte.gz", download)
        images = self._read(images_file, IMAGES_MAGIC)
        labels = self._read(labels_file, LABELS_MAGIC)
        self._check_pair(images, labels, images_file, labels_file)
        x = images.reshape(len(images), 1, *images.shape[1:]).astype(np.float32)
        x *= np.float32(1 / 255)
        super().__init__(x, labels.astype(np.int64), transform=transform)

    def _fetch(self, name, download):
        """The path of file ``name``, downloaded first when missing and ``download`` is set."""
        path = self.root / name
        if not path.exists():
            if not download:
                raise FileNotFoundError(
                    f"{type(self).__name__}: {path} is missing; pass download=True "
                    f"(--download on the command line) or save {self.mirrors[0]}{name} there"
                )
            self._download(name, path)
        self._verify(name, path)
        return path

    def _download(self, name, path):
        errors = []
        for mirror in self.mirrors:
            try:
                download(mirror + name, path)
                return
            except OSError as err:  # URLError and HTTPError are OSErrors
                errors.append(f"{mirror}{name}: {err}")
        raise ConnectionError(
            f"{type(self).__name__}: could not download {name} from any mirror "
            f"({'; '.join(errors)}); check the network or save the file as {path}"
        )

    def _verify(self, name, path):
        expected = self.sha256.get(name)
        found = sha256_of(path)
        if expected is not None and found != expected:
            raise ValueError(
                f"{type(self).__name__}: {path} is corrupted or not the official file "
                f"(SHA-256 {found}, expected {expected}); delete it and pass download=True "
                f"or save {self.mirrors[0]}{name} there"
            )

    def _read(self, path, magic):
        try:
            return read_idx_gz(path, magic)
        except ValueError as err:
            raise ValueError(
                f"{type(self).__name__}: {err}; delete it and pass download=True "
                f"or save {self.mirrors[0]}{path.name} there"
            ) from None

    def _check_pair(self, images, labels, images_file, labels_file):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{type(self).__name__}: {images_file} holds images {images.shape} but "
                f"{labels_file} holds labels {labels.shape}; they must describe the same examples"
            )
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(
                f"{type(self).__name__}: {labels_file} holds label {labels.max()}, "
                f"outside 0..{len(self.classes) - 1}"
            )


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): x (1, 28, 28) float32 in [0, 1], t int64 in 0..9 (see classes).

    Same files, layout and arguments as ``MNIST``, kept in ``<root>/fashion-mnist/``.
    """

    folder = "fashion-mnist"
    mirrors = (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    )
    sha256 = MappingProxyType({
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    })
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
