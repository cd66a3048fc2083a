"""Checkpoints: nested dicts of arrays saved as safetensors, written atomically, never pickled.

The arrays become the file's tensors; everything else (the nesting, dict keys, Python numbers,
strings, booleans, None, lists) is JSON in the file's metadata under ``STRUCTURE_KEY``. Tensor
names are the key paths joined by ``/`` (``model/0.W``) for other tools to read; loading never
parses them, so no key can clash with the separator.
"""

import json
import os
import tempfile

import numpy as np

STRUCTURE_KEY = "chainrule.structure"
SAFETENSORS_HINT = "pip install safetensors"


def _safetensors():
    """The ``safetensors`` package, imported only when a checkpoint is read or written."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            f"chainrule.save/load need the safetensors package: {SAFETENSORS_HINT}"
        ) from None
    return safetensors


def _is_plain(value):
    """True for values JSON keeps exactly (not np.float64, which subclasses float)."""
    return value is None or type(value) in (bool, int, float, str)


def _encode(value, path, tensors):
    """The JSON node for ``value``; its arrays go into ``tensors`` under unique names.

    Nodes: {"dict": [[key, node], ...]} (key order kept), {"list": [node, ...]},
    {"tensor": name} (with "scalar": true for a NumPy scalar), {"value": python_value}.
    """
    where = "/".join(path) or "the top level"
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save: dict keys must be str or int, got {key!r} at {where}")
            items.append([key, _encode(item, (*path, str(key)), tensors)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        if all(_is_plain(v) for v in value):
            return {"value": list(value)}  # one JSON list, not a node per element
        return {"list": [_encode(v, (*path, str(i)), tensors) for i, v in enumerate(value)]}
    if _is_plain(value):
        return {"value": value}
    is_scalar = isinstance(value, np.generic)
    arraylike = hasattr(value, "__array__") or hasattr(value, "__cuda_array_interface__")
    if hasattr(value, "backward") or not (is_scalar or arraylike):  # a Variable: save its .data
        raise TypeError(
            f"save: cannot store {type(value).__name__} at {where}; use arrays, numbers, "
            "strings, lists or dicts"
        )
    if hasattr(value, "__cuda_array_interface__"):
        value = value.get()  # a CuPy array: copy to the host without importing CuPy here
    array = np.asarray(value)
    if not array.flags.c_contiguous:  # not ascontiguousarray: it turns 0-d arrays into 1-d
        array = array.copy(order="C")
    if array.dtype.hasobject:
        raise TypeError(f"save: cannot store an object array at {where}")
    name = "/".join(path) or "_"
    while name in tensors:  # a key holding "/" could repeat a name; any unique name will do
        name += "_"
    tensors[name] = array
    return {"tensor": name, "scalar": True} if is_scalar else {"tensor": name}


def _decode(node, tensors):
    """Inverse of ``_encode``: the Python value described by ``node``."""
    if "dict" in node:
        return {key: _decode(item, tensors) for key, item in node["dict"]}
    if "list" in node:
        return [_decode(item, tensors) for item in node["list"]]
    if "tensor" in node:
        array = tensors[node["tensor"]]
        return array[()] if node.get("scalar") else array
    return node["value"]


def _fsync_path(path, flags=os.O_RDONLY):
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(state, path):
    """Write ``state`` (a dict, nested freely) to ``path`` in safetensors format, atomically.

    Leaves may be arrays (NumPy, or CuPy: stored as NumPy), NumPy scalars, Python
    numbers, strings, booleans, None, and lists of any of these. The file is written to a
    temporary file in the same folder, flushed to disk, then renamed over ``path``, so a crash
    leaves either the old file or the new one, never a mix. Tuples load back as lists.

    >>> save({"W": np.ones((2, 3), np.float32), "epoch": 3}, "model.safetensors")  # doctest: +SKIP
    """
    if not isinstance(state, dict):
        raise TypeError(f"save: state must be a dict, got {type(state).__name__}")
    st = _safetensors()
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    tensors = {}
    metadata = {STRUCTURE_KEY: json.dumps(_encode(state, (), tensors))}
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: cannot write {path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        st.numpy.save_file(tensors, tmp, metadata=metadata)
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_path(folder)  # make the rename itself durable


def load(path):
    """Read a checkpoint written by ``save``: the same nested dict, arrays as NumPy arrays.

    A safetensors file written by another tool loads as a flat dict of its tensors.
    A missing file raises FileNotFoundError; an empty, truncated or foreign one ValueError.
    """
    st = _safetensors()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load: {path} is a folder, not a checkpoint file")
    try:
        with st.safe_open(path, framework="np") as f:
            metadata = f.metadata() or {}
            names = f.keys()  # a safe_open handle is not iterable itself
            tensors = {name: f.get_tensor(name) for name in names}
    except st.SafetensorError as err:
        raise ValueError(
            f"load: {path} is not a readable safetensors checkpoint (empty, truncated or "
            f"another format: {err})"
        ) from None
    if STRUCTURE_KEY not in metadata:
        return tensors
    try:
        return _decode(json.loads(metadata[STRUCTURE_KEY]), tensors)
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"load: {path} has a damaged {STRUCTURE_KEY} entry ({type(err).__name__}: {err})"
        ) from None
