"""What `icm-bench ls` and `icm-bench doctor` print."""

from __future__ import annotations

from bench.errors import BenchError
from bench.registry import CODECS, DATASETS, TASKS, did_you_mean

KINDS = ("codecs", "datasets", "tasks", "presets")


def listing(what: str) -> list[tuple[str, str]]:
    """(name, one-line help) for codecs, datasets, tasks or presets."""
    from bench.spec import PRESETS_DIR, preset_names, read_yaml

    if what == "presets":
        out = []
        for name in preset_names():
            raw = read_yaml(PRESETS_DIR / f"{name}.yaml", "preset")
            out.append((name, str(raw.get("description", "")).strip().splitlines()[0] if raw.get("description") else ""))
        return out
    registries = {"codecs": CODECS, "datasets": DATASETS, "tasks": TASKS}
    if what not in registries:
        raise BenchError(f"cannot list {what!r}.{did_you_mean(what, KINDS)} Choose one of {', '.join(KINDS)}")
    reg = registries[what]
    if what == "codecs":
        return [(name, _codec_line(name, reg.help(name))) for name in reg.names()]
    return [(name, reg.help(name)) for name in reg.names()]


def _codec_line(name: str, help_text: str) -> str:
    """The codec's own description (implementation, settings) and its chroma format."""
    from bench.report.codec_info import describe_codec

    description, chroma = describe_codec(name, {})
    text = description if description and description != "-" else help_text
    return f"{text} | {chroma}" if chroma and chroma != "-" else text


def doctor_rows() -> list[tuple[str, bool, str]]:
    """(codec or backend, usable, detail) for everything this machine may lack."""
    rows: list[tuple[str, bool, str]] = []
    for name in CODECS.names():
        try:
            codec = CODECS.build(name, {})
            codec.check()
            rows.append((name, True, codec.version()))
        except BenchError as exc:
            rows.append((name, False, str(exc).splitlines()[0]))
        except Exception as exc:  # noqa: BLE001 - doctor reports, it does not fail
            rows.append((name, False, f"{type(exc).__name__}: {exc}"))
    rows.extend(_backend_rows())
    return rows


def _backend_rows() -> list[tuple[str, bool, str]]:
    rows = []
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device: CPU only"
        rows.append(("torch", True, f"{torch.__version__}; {gpu}"))
    except ImportError:
        rows.append(("torch", False, "not installed: pip install torch torchvision"))
    for mod, hint in [
        ("distributed", "pip install 'dask[distributed]'"),
        ("faster_coco_eval", "optional: pip install faster-coco-eval"),
        ("detectron2", "optional: install detectron2 from its repository for the X101-FPN networks"),
    ]:
        try:
            m = __import__(mod)
            rows.append((mod, True, getattr(m, "__version__", "installed")))
        except ImportError:
            rows.append((mod, False, f"not installed ({hint})"))
    return rows
