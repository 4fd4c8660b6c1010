"""Weights files: hashing (cached), loading without running pickled code, atomic saving.

Used by every task and codec that loads weights. A checkpoint is refused *before*
torch unpickles it when its pickle names any global outside torch's tensor rebuilders,
dtypes, storages and plain containers (what `torch.load(weights_only=True)` accepts),
so a file carrying code fails once, up front, with the file's name and the offending
global; torch.load then runs with weights_only=True regardless.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickletools
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.errors import BenchError


class CheckpointError(BenchError):
    """A weights file is missing, unreadable, of the wrong kind, or carries code."""


_CACHE_ENV = "ICM_BENCH_CACHE_DIR"
_memo: dict[tuple[str, int, int], str] = {}

# Globals a weights-only checkpoint may name (module -> names, "*" = any name).
_SAFE_GLOBALS: dict[str, set[str]] = {
    "torch._utils": {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3",
                     "_rebuild_parameter", "_rebuild_parameter_with_state",
                     "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
                     "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_wrapper_subclass"},
    "torch": {"*"},  # storages (FloatStorage, ...), dtypes, Size, device, layouts
    "torch.storage": {"UntypedStorage", "TypedStorage"},
    "torch.serialization": {"_get_layout"},
    "torch.nn.parameter": {"Parameter"},
    "collections": {"OrderedDict"},
    "builtins": {"set", "frozenset", "bytearray", "complex", "slice", "range"},
    "__builtin__": {"set", "frozenset", "bytearray", "complex", "slice"},  # protocol 2 names
    "_codecs": {"encode"},  # how protocol 2 pickles bytes
}
_TORCH_UNSAFE = {"load", "save", "jit", "hub", "ops", "classes", "_C", "compile", "export"}


def cache_dir() -> Path:
    """Where icm-bench caches hashes: $ICM_BENCH_CACHE_DIR or ~/.cache/icm-bench."""
    return Path(os.environ.get(_CACHE_ENV) or Path.home() / ".cache" / "icm-bench")


def _cache_file() -> Path:
    return cache_dir() / "sha256.json"


def _read_cache() -> dict[str, str]:
    try:
        data = json.loads(_cache_file().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(entries: dict[str, str]) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cache = _read_cache()
        cache.update(entries)
        _atomic_write_bytes(path, json.dumps(cache, sort_keys=True).encode())
    except OSError:
        pass  # a cache that cannot be written only costs time


def file_sha256(path: str | Path) -> str:
    """The file's SHA-256 (hex), cached by absolute path, size and mtime."""
    path = Path(path).expanduser()
    try:
        st = path.stat()
    except OSError as exc:
        raise CheckpointError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _memo:
        return _memo[key]
    text_key = f"{key[0]}|{key[1]}|{key[2]}"
    digest = _read_cache().get(text_key)
    if digest is None:
        digest = _hash_file(path)
        _write_cache({text_key: digest})
    _memo[key] = digest
    return digest


def files_sha256(paths: list[Path]) -> list[str]:
    """`file_sha256` of many files, reading and writing the persistent cache once."""
    cache = _read_cache()
    out, new = [], {}
    for path in paths:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        text_key = f"{key[0]}|{key[1]}|{key[2]}"
        digest = _memo.get(key) or cache.get(text_key)
        if digest is None:
            digest = new[text_key] = _hash_file(path)
        _memo[key] = digest
        out.append(digest)
    if new:
        _write_cache(new)
    return out


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pickles(path: Path) -> Iterator[tuple[str, Any]]:
    """(member name, pickle stream) of a torch zip checkpoint's .pkl members, or the
    five consecutive pickles that open a legacy (pre-1.6) checkpoint file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.endswith(".pkl"):
                    yield name, io.BytesIO(zf.read(name))
        return
    with open(path, "rb") as f:
        stream = io.BytesIO(f.read())
    for _ in range(5):  # magic, protocol, sys info, the object, the storage keys
        yield path.name, stream


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "SHORT_BINSTRING",
               "BINSTRING", "STRING"}


def _globals_of(data: Any) -> Iterator[tuple[str, str]]:
    """(module, name) of every GLOBAL / STACK_GLOBAL in a pickle stream.

    STACK_GLOBAL takes its module and name from the two values pushed before it, which
    may be strings or memo lookups of earlier strings; both are followed here.
    """
    pushed: list[Any] = []
    memo: dict[int, Any] = {}
    for op, arg, _pos in pickletools.genops(data):
        name = op.name
        if name in _STRING_OPS:
            pushed.append(str(arg))
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = pushed[-1] if pushed else None
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            pushed.append(memo.get(int(arg)))
        elif name == "GLOBAL":
            module, _, attr = str(arg).partition(" ")
            yield module, attr
            pushed.append(None)
        elif name == "STACK_GLOBAL":
            module, attr = (pushed[-2], pushed[-1]) if len(pushed) >= 2 else (None, None)
            yield str(module), str(attr)
            pushed.append(None)
        else:
            pushed.append(None)
        del pushed[:-4]


def _safe(module: str, name: str) -> bool:
    allowed = _SAFE_GLOBALS.get(module)
    if allowed is None:
        return False
    if module == "torch":
        return name not in _TORCH_UNSAFE and not name.startswith("_")
    return "*" in allowed or name in allowed


def check_no_code(path: str | Path) -> None:
    """CheckpointError if the checkpoint's pickle references code (any unsafe global)."""
    path = Path(path)
    try:
        for member, data in _pickles(path):
            for module, name in _globals_of(data):
                if not _safe(module, name):
                    raise CheckpointError(
                        f"{str(path)!r} is not a weights-only checkpoint: its pickle "
                        f"({member}) refers to {module}.{name}, which would run code when "
                        "loaded; re-save the weights as a plain state dict "
                        "(torch.save(model.state_dict(), path))"
                    )
    except CheckpointError:
        raise
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {exc}") from None


def load_checkpoint(path: str | Path, fmt: str | None = None, map_location: str = "cpu") -> Any:
    """Load weights with `torch.load(weights_only=True)` after refusing pickled code.

    With `fmt`, the file must be a dict whose "format" equals it (files the project
    writes); without, any weights-only object (e.g. a plain state dict).
    """
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"weights file {str(path)!r} does not exist")
    check_no_code(path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"cannot load weights {str(path)!r}: {exc}") from None
    if fmt is not None and (not isinstance(obj, dict) or obj.get("format") != fmt):
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{str(path)!r} is not a {fmt!r} weights file (found {found!r})")
    return obj


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | Path, payload: Any) -> Path:
    """`torch.save` to a temporary file, then rename: a crash never leaves half a file."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
