"""MNIST / FashionMNIST on small IDX files written here; downloads faked, no network."""

import gzip
import hashlib
import io
import urllib.error
import urllib.request

import numpy as np
import pytest

from chainrule.data import MNIST, FashionMNIST
from chainrule.data.mnist import IMAGES_MAGIC, LABELS_MAGIC, parse_idx

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def idx_bytes(array, magic):
    """Uncompressed IDX: big-endian magic, one uint32 per dimension, the uint8 values."""
    dims = np.array(array.shape, ">u4").tobytes()
    return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def tiny_files(n=6, seed=0):
    """{file name: gzip bytes} for a small valid MNIST-shaped train and test set."""
    rng = np.random.default_rng(seed)
    files = {}
    for images, labels, count in [(TRAIN_IMAGES, TRAIN_LABELS, n), (TEST_IMAGES, TEST_LABELS, 2)]:
        files[images] = gzip.compress(idx_bytes(rng.integers(0, 256, (count, 28, 28)), 0x803))
        files[labels] = gzip.compress(idx_bytes(rng.integers(0, 10, count), 0x801))
    return files


def install(folder, files, monkeypatch, cls=MNIST):
    """Write ``files`` into ``folder`` and make their digests the expected ones."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    monkeypatch.setattr(cls, "sha256", digests)


def test_reads_train_and_test_files(tmp_path, monkeypatch):
    files = tiny_files()
    install(tmp_path / "mnist", files, monkeypatch)
    train, test = MNIST(root=tmp_path), MNIST(root=tmp_path, train=False)
    assert len(train) == 6 and len(test) == 2
    assert train.x.shape == (6, 1, 28, 28) and train.x.dtype == np.float32
    assert train.t.dtype == np.int64
    raw = np.frombuffer(gzip.decompress(files[TRAIN_IMAGES])[16:], np.uint8).reshape(6, 28, 28)
    np.testing.assert_allclose(train.x[:, 0], raw / 255, rtol=1e-6)
    np.testing.assert_array_equal(train.t, np.frombuffer(gzip.decompress(files[TRAIN_LABELS])[8:],
                                                         np.uint8))
    assert 0.0 <= train.x.min() and train.x.max() <= 1.0


def test_default_root_is_the_xdg_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    install(tmp_path / "chainrule" / "fashion-mnist", tiny_files(), monkeypatch, FashionMNIST)
    assert len(FashionMNIST()) == 6


def test_missing_file_names_file_url_and_download_flag(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "mnist" / TRAIN_IMAGES) in message
    assert "download=True" in message and "--download" in message
    assert f"https://ossci-datasets.s3.amazonaws.com/mnist/{TRAIN_IMAGES}" in message


def test_wrong_digest_is_reported_with_both_digests(tmp_path):
    (tmp_path / "mnist").mkdir()
    for name, data in tiny_files().items():
        (tmp_path / "mnist" / name).write_bytes(data)
    with pytest.raises(ValueError, match=r"MNIST: .*train-images-idx3-ubyte.gz is corrupted or "
                       r"not the official file \(SHA-256 [0-9a-f]{64}, expected 440fcabf"):
        MNIST(root=tmp_path)


def test_truncated_idx_is_reported(tmp_path, monkeypatch):
    files = tiny_files()
    files[TRAIN_IMAGES] = gzip.compress(gzip.decompress(files[TRAIN_IMAGES])[:-100])
    install(tmp_path / "mnist", files, monkeypatch)
    with pytest.raises(ValueError, match=r"MNIST: .*train-images-idx3-ubyte.gz is damaged: its "
                       r"header promises \(6, 28, 28\) values \(4720 bytes\) but it holds 4620"):
        MNIST(root=tmp_path)


def test_truncated_gzip_is_reported(tmp_path, monkeypatch):
    files = tiny_files()
    files[TRAIN_LABELS] = files[TRAIN_LABELS][:-12]
    install(tmp_path / "mnist", files, monkeypatch)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz is not a readable gzip file"):
        MNIST(root=tmp_path)


def test_wrong_magic_is_reported(tmp_path, monkeypatch):
    files = tiny_files()
    files[TRAIN_IMAGES], files[TRAIN_LABELS] = files[TRAIN_LABELS], files[TRAIN_IMAGES]
    install(tmp_path / "mnist", files, monkeypatch)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz is not the expected IDX "
                       r"file: magic 0x00000801, expected 0x00000803; delete it"):
        MNIST(root=tmp_path)


def test_short_header_is_reported():
    with pytest.raises(ValueError, match=r"f.idx is truncated: 10 bytes, shorter than its IDX"):
        parse_idx(b"\x00\x00\x08\x03" + bytes(6), IMAGES_MAGIC, "f.idx")


def test_parse_idx_reads_exact_layout():
    labels = parse_idx(idx_bytes(np.array([7, 0, 9]), 0x801), LABELS_MAGIC, "l")
    assert labels.tolist() == [7, 0, 9] and labels.dtype == np.uint8


def test_image_and_label_counts_must_agree(tmp_path, monkeypatch):
    files = tiny_files()
    files[TRAIN_LABELS] = gzip.compress(idx_bytes(np.zeros(5), 0x801))
    install(tmp_path / "mnist", files, monkeypatch)
    with pytest.raises(ValueError, match=r"holds images \(6, 28, 28\) but .* labels \(5,\)"):
        MNIST(root=tmp_path)


def test_labels_outside_classes_are_reported(tmp_path, monkeypatch):
    files = tiny_files()
    files[TRAIN_LABELS] = gzip.compress(idx_bytes(np.array([0, 1, 2, 3, 4, 10]), 0x801))
    install(tmp_path / "mnist", files, monkeypatch)
    with pytest.raises(ValueError, match=r"holds label 10, outside 0..9"):
        MNIST(root=tmp_path)


def fake_urlopen(served, calls):
    """An urlopen that serves ``served[url]`` and refuses every other URL."""

    def urlopen(url, timeout=None):
        calls.append(url)
        if url not in served:
            raise urllib.error.URLError("no route to host")
        return io.BytesIO(served[url])

    return urlopen


def test_download_fetches_missing_files_from_first_mirror(tmp_path, monkeypatch):
    files, calls = tiny_files(), []
    served = {FashionMNIST.mirrors[0] + name: data for name, data in files.items()}
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen(served, calls))
    install(tmp_path / "unused", files, monkeypatch, FashionMNIST)
    ds = FashionMNIST(root=tmp_path, download=True)
    assert len(ds) == 6 and len(calls) == 2
    assert sorted(p.name for p in (tmp_path / "fashion-mnist").iterdir()) == [TRAIN_IMAGES,
                                                                            TRAIN_LABELS]
    FashionMNIST(root=tmp_path, download=True)
    assert len(calls) == 2  # files already there are not downloaded again


def test_download_falls_back_to_next_mirror(tmp_path, monkeypatch):
    files, calls = tiny_files(), []
    served = {MNIST.mirrors[1] + name: data for name, data in files.items()}
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen(served, calls))
    install(tmp_path / "unused", files, monkeypatch)
    assert len(MNIST(root=tmp_path, train=False, download=True)) == 2
    assert calls[:2] == [MNIST.mirrors[0] + TEST_IMAGES, MNIST.mirrors[1] + TEST_IMAGES]


def test_offline_download_names_file_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen({}, []))
    with pytest.raises(ConnectionError, match=r"MNIST: could not download "
                       r"train-images-idx3-ubyte.gz from any mirror .*no route to host.*; "
                       r"check the network or save the file as"):
        MNIST(root=tmp_path, download=True)
    assert list((tmp_path / "mnist").iterdir()) == []


def test_downloaded_file_with_wrong_digest_is_rejected(tmp_path, monkeypatch):
    served = {MNIST.mirrors[0] + name: data for name, data in tiny_files().items()}
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen(served, []))
    with pytest.raises(ValueError, match="is corrupted or not the official file"):
        MNIST(root=tmp_path, download=True)
