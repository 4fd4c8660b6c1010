"""Run spec: YAML -> validated pydantic models. Unknown keys are rejected.

A spec names the dataset, the task, the codecs with their rate points, the anchor
that BD tables compare against, and the executor. `load_spec` resolves a preset name
or a file, applies ``--set key.path=value`` overrides, includes anchor codec
definitions (``include: vcm-image-vvenc``) and validates.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench.errors import SpecError
from bench.registry import did_you_mean

SPEC_SCHEMA_VERSION = 1
PRESETS_DIR = Path(__file__).parent / "presets"
# Shipped with the package (package data), so a wheel or `pip install .` finds them;
# a folder of the same name in the working directory comes first (your own definitions).
ANCHORS_DIRS = (Path("anchors"), Path(__file__).parent / "anchors")
MANIFEST_DIRS = (Path("datasets"), Path(__file__).parent / "manifests")

PointValue = Union[int, float, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Model):
    type: str | None = None
    manifest: str | None = Field(None, description="name of datasets/<name>.yaml, or a path")
    params: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(None, ge=1)
    ids_file: str | None = None


class TaskSpec(_Model):
    name: str | None = Field(None, description="metric prefix; default the type")
    type: str = "pixel"
    params: dict[str, Any] = Field(default_factory=dict)
    target: str | None = Field(None, description="the codec decode target it scores")
    layers: list[str] | None = Field(None, description="the layers it scores (all: null)")


class CodecSpec(_Model):
    name: str | None = Field(None, description="curve label; defaults to the include or type")
    include: str | None = Field(None, description="an anchors/<name>.yaml codec definition")
    type: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    points: list[PointValue] = Field(default_factory=list)
    split: str | None = Field(None, description="task split point (feature codecs)")
    task: str | None = Field(
        None, description="the task whose split features a feature codec takes (default: "
                          "the first task with that split point)")
    description: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _named(self) -> CodecSpec:
        if self.type is None:
            raise ValueError("a codec needs `type` (or `include` of an anchor definition)")
        if self.name is None:
            self.name = self.include or self.type
        return self


class BootstrapSpec(_Model):
    """Confidence intervals of BD values by resampling the dataset's items (0 = off)."""

    resamples: int = Field(200, ge=0, description="bootstrap replicates; 0 turns it off")
    seed: int = 0
    confidence: float = Field(0.95, gt=0, lt=1, description="of the percentile interval")
    bands: bool = Field(False, description="RD plots shade each curve's per-point interval")


class BDSpec(_Model):
    method: Literal["pchip", "cubic", "akima"] = "pchip"
    monotonic: Literal["strict", "auto", "always"] | bool = Field(
        "auto", description="auto: fit task-accuracy curves that are not monotonic; "
                            "strict (false): never; always (true): every curve")
    metrics: list[str] | None = None
    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec)


class ExecuteSpec(_Model):
    executor: Literal["serial", "process", "dask"] = "process"
    workers: int | None = Field(None, ge=1)
    address: str | None = None
    shard_size: int = Field(8, ge=1)
    timeout_s: float = Field(1800.0, gt=0)
    threads_per_worker: int = Field(1, ge=1)
    devices: list[str] = Field(
        default_factory=list,
        description="accelerators (cuda:0, cuda:1): GPU codecs and tasks run one worker each")


class StoreSpec(_Model):
    keep_bitstreams: bool = True


REPORT_FORMATS = ("html", "md", "pdf", "svg", "png", "tex", "csv")


class ReportSpec(_Model):
    formats: list[str] = Field(default_factory=lambda: ["md", "csv", "png", "html"])
    metrics: list[str] | None = None
    log_rate: bool | None = Field(
        None, description="rate axis: true log, false linear, null log when rates span a decade")

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in REPORT_FORMATS]
        if bad:
            hint = did_you_mean(bad[0], REPORT_FORMATS)
            raise ValueError(f"unknown format {bad[0]!r}.{hint} Formats: {', '.join(REPORT_FORMATS)}")
        return v


class RunSpec(_Model):
    schema_version: int = SPEC_SCHEMA_VERSION
    name: str
    description: str = ""
    dataset: DatasetSpec
    task: TaskSpec | None = Field(None, description="one task (bare metric names)")
    tasks: list[TaskSpec] | None = Field(None, description="several tasks (<name>/<metric>)")
    codecs: list[CodecSpec]
    anchor: str | None = None
    anchors: list[str] | None = Field(
        None, description="several anchors: BD tables compare every codec with each")
    bd: BDSpec = Field(default_factory=BDSpec)
    execute: ExecuteSpec = Field(default_factory=ExecuteSpec)
    store: StoreSpec = Field(default_factory=StoreSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\") or v.startswith("."):
            raise ValueError("must be a plain name (no slashes, not starting with '.')")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        labels = [c.name for c in self.codecs]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"codec names must be unique; repeated: {dupes}")
        for anchor in self.anchor_list():
            if anchor not in labels:
                raise ValueError(
                    f"anchor {anchor!r} is not one of the codecs.{did_you_mean(anchor, labels)}"
                )
        if self.task is not None and self.tasks is not None:
            raise ValueError("give either `task` (one task) or `tasks` (a list), not both")
        if self.tasks is not None:
            if not self.tasks:
                raise ValueError("tasks: give at least one task")
            names = [t.name or t.type for t in self.tasks]
            dupes = sorted({x for x in names if names.count(x) > 1})
            if dupes:
                raise ValueError(f"task names must be unique (give `name:`); repeated: {dupes}")
        if self.schema_version != SPEC_SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {self.schema_version} is not supported (this icm-bench reads "
                f"{SPEC_SCHEMA_VERSION})"
            )
        return self

    def anchor_list(self) -> list[str]:
        """The curves BD tables compare against: `anchor`, then `anchors` (no repeats)."""
        return list(dict.fromkeys(([self.anchor] if self.anchor else []) + (self.anchors or [])))

    def task_list(self) -> list[TaskSpec]:
        """The tasks to score, with their metric prefixes.

        `tasks:` as given (a name defaults to the type). The single `task:` form keeps
        the bare metric names of earlier versions and adds the pixel-quality task.
        """
        if self.tasks is not None:
            return [t.model_copy(update={"name": t.name or t.type}) for t in self.tasks]
        main = (self.task or TaskSpec()).model_copy(update={"name": ""})
        if main.type == "pixel":
            if "metrics" not in main.params:
                main = main.model_copy(update={"params": {**main.params, **self._pixel_params()}})
            return [main]
        return [main, TaskSpec(name="", type="pixel", params=self._pixel_params())]

    def _pixel_params(self) -> dict[str, Any]:
        """The implicit pixel task computes what the spec's BD or report metrics name
        (MS-SSIM, the costly one, only then)."""
        named = set(self.bd.metrics or []) | set(self.report.metrics or [])
        if "ms_ssim" not in named:
            return {}
        return {"metrics": ["psnr_rgb", "psnr_y", "ms_ssim"]}

    def codec(self, label: str) -> CodecSpec:
        for c in self.codecs:
            if c.name == label:
                return c
        raise SpecError(f"no codec named {label!r} in spec {self.name!r}")


# ---------------------------------------------------------------- loading


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def read_yaml(path: Path, what: str = "spec") -> Any:
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise SpecError(f"{what} {str(path)!r} is not UTF-8 text: {exc.reason} at byte "
                        f"{exc.start}") from None
    except OSError as exc:
        raise SpecError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{what} {str(path)!r} is not valid YAML: {exc}") from exc
    except RecursionError:
        raise SpecError(f"{what} {str(path)!r} is nested too deeply to be a spec") from None


def resolve_spec_source(spec: str) -> Path:
    """A preset name or a YAML path -> the file."""
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SpecError(f"spec file {spec!r} does not exist")
        return path
    preset = PRESETS_DIR / f"{spec}.yaml"
    if preset.is_file():
        return preset
    raise SpecError(
        f"{spec!r} is neither a spec file nor a preset.{did_you_mean(spec, preset_names())} "
        f"Presets: {', '.join(preset_names())}"
    )


def _find_named_yaml(name: str, dirs: tuple[Path, ...], what: str) -> Path:
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    known: set[str] = set()
    for d in dirs:
        p = d / f"{name}.yaml"
        if p.is_file():
            return p
        known.update(x.stem for x in d.glob("*.yaml"))
    raise SpecError(
        f"{what} {name!r} not found in {', '.join(str(d) for d in dirs)}."
        f"{did_you_mean(name, sorted(known))}"
    )


def _expand_includes(raw: dict[str, Any]) -> None:
    codecs = raw.get("codecs")
    if not isinstance(codecs, list):
        return
    for i, entry in enumerate(codecs):
        if isinstance(entry, dict) and entry.get("include"):
            path = _find_named_yaml(str(entry["include"]), ANCHORS_DIRS, "anchor definition")
            base = read_yaml(path, "anchor definition")
            if not isinstance(base, dict):
                raise SpecError(f"anchor definition {str(path)!r} must be a mapping")
            merged = {**base, **{k: v for k, v in entry.items() if k != "params"}}
            merged["params"] = {**base.get("params", {}), **entry.get("params", {})}
            merged.setdefault("name", entry.get("name") or base.get("name") or entry["include"])
            codecs[i] = merged


def _expand_manifest(raw: dict[str, Any]) -> None:
    ds = raw.get("dataset")
    if not isinstance(ds, dict) or not ds.get("manifest"):
        return
    path = _find_named_yaml(str(ds["manifest"]), MANIFEST_DIRS, "dataset manifest")
    base = read_yaml(path, "dataset manifest")
    if not isinstance(base, dict):
        raise SpecError(f"dataset manifest {str(path)!r} must be a mapping")
    merged = {**base, **{k: v for k, v in ds.items() if k not in ("params", "manifest")}}
    merged["params"] = {**base.get("params", {}), **ds.get("params", {})}
    merged["manifest"] = ds["manifest"]
    raw["dataset"] = merged


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply one ``key.path=value`` (value parsed as YAML). List items by index or by name."""
    if "=" not in assignment:
        raise SpecError(f"--set {assignment!r}: expected key.path=value")
    path, _, text = assignment.partition("=")
    keys = [k for k in path.strip().split(".") if k]
    if not keys:
        raise SpecError(f"--set {assignment!r}: empty key path")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"--set {assignment!r}: value is not valid YAML: {exc}") from exc
    node: Any = raw
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        where = ".".join(keys[: depth + 1])
        if isinstance(node, list):
            idx = _list_index(node, key, where)
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise SpecError(f"--set {assignment!r}: {where!r} is inside a plain value")


def _list_index(node: list, key: str, where: str) -> int:
    if key.lstrip("-").isdigit():
        idx = int(key)
        if not -len(node) <= idx < len(node):
            raise SpecError(f"--set: index {where!r} out of range (list has {len(node)} items)")
        return idx
    names = [x.get("name") or x.get("include") or x.get("type") for x in node if isinstance(x, dict)]
    if key in names:
        return names.index(key)
    raise SpecError(f"--set: no item named {key!r} at {where!r}.{did_you_mean(key, names)}")


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model that sits at `loc` inside a RunSpec."""
    model: Any = RunSpec
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        for arg in getattr(ann, "__args__", ()) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                ann = arg
        model = ann
    return list(getattr(model, "model_fields", {}))


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"invalid spec {source}:"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            hint = did_you_mean(str(loc[-1]), _fields_at(loc[:-1]))
            lines.append(f"  {_dotted(loc)}: unknown key.{hint}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"  {_dotted(loc)}: {msg}")
    return "\n".join(lines)


def validate_spec(raw: Any, source: str = "") -> RunSpec:
    if not isinstance(raw, dict):
        raise SpecError(f"spec {source} must be a YAML mapping at the top level")
    raw = copy.deepcopy(raw)
    _expand_manifest(raw)
    _expand_includes(raw)
    try:
        return RunSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source)) from None


def load_spec(spec: str, overrides: list[str] | tuple[str, ...] = ()) -> RunSpec:
    """Resolve a preset or file, apply --set overrides, include anchors, validate."""
    path = resolve_spec_source(spec)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise SpecError(f"spec {str(path)!r} must be a YAML mapping at the top level")
    if "name" not in raw:
        raw["name"] = path.stem
    for assignment in overrides:
        apply_override(raw, assignment)
    return validate_spec(raw, source=repr(str(path)))
