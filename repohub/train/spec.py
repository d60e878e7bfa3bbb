"""`repohub.yaml`'s `train` and `eval` blocks, validated field by field.

A spec comes from a pushed file, so every field is checked and every refusal names the field
(`train.params.base_lr: ...`): the job fails at once with that message instead of a worker
crashing half-way. Pure Python (no torch), so the check is cheap and runs before any child
process starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from repohub.errors import Unprocessable

TASKS = ("image-classification", "image-segmentation")
CLASSIFIERS = (
    "smallcnn",
    "alexnet",
    "vgg16",
    "resnet18",
    "resnet50",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "mnasnet0_5",
    "shufflenet_v2_x1_0",
)
SEGMENTERS = ("unet",)
MIN_IMAGE_SIZE = {
    "alexnet": 63
}  # its stride-4 stem and three pools need room; others pool adaptively
OPTIMIZERS = ("sgd", "adam", "adamw")
LR_POLICIES = ("fixed", "step", "exp", "inv", "poly", "cosine")
AUGMENTATIONS = ("flip", "color", "scale", "random")
QUEUES = ("cpu", "gpu")
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "confusion_matrix")
SEGMENTATION_METRICS = ("accuracy", "iou", "dice", "confusion_matrix")
REF_RE = re.compile(
    r"^(?P<owner>[A-Za-z0-9][A-Za-z0-9-]{0,38})/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,95})"
    r"(?:@(?P<rev>[^\s@]{1,255}))?$"
)


class SpecError(Unprocessable):
    """A spec field is wrong; `field` is its dotted path, also the message's first word."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path


@dataclass(frozen=True)
class RepoRef:
    """`owner/name@revision`: a repo at a revision (default: its default branch)."""

    owner: str
    name: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class Params:
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    base_lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_policy: str = "fixed"
    power: float = 1.0
    gamma: float = 0.1
    step_size: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class Preprocess:
    val_split: float = 0.1
    normalize: bool = True
    augment: tuple[str, ...] = ()


@dataclass(frozen=True)
class EarlyStopping:
    metric: str
    patience: int

    @property
    def maximize(self) -> bool:
        return not self.metric.endswith("loss")


@dataclass(frozen=True)
class Resources:
    queue: str = "cpu"
    gpus: int = 0
    memory_mb: int | None = None


@dataclass(frozen=True)
class TrainSpec:
    task: str
    model: str
    dataset: RepoRef
    image_size: int = 32
    pretrained: bool = False
    init: RepoRef | None = None
    params: Params = field(default_factory=Params)
    preprocess: Preprocess = field(default_factory=Preprocess)
    early_stopping: EarlyStopping | None = None
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class EvalSpec:
    dataset: RepoRef
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class Spec:
    train: TrainSpec | None
    eval: EvalSpec | None


class _Block:
    """One mapping of the spec at a dotted path; remembers which keys were read so unknown
    (misspelt) keys are refused rather than silently ignored."""

    def __init__(self, path: str, raw: object, known: tuple[str, ...]) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise SpecError(path, f"must be a mapping, got {_shown(raw)}")
        for key in raw:
            if key not in known:
                raise SpecError(
                    f"{path}.{key}", f"unknown field (known fields: {', '.join(known)})"
                )
        self.path, self.raw = path, raw

    def where(self, key: str) -> str:
        return f"{self.path}.{key}"

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def string(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        value = self.raw.get(key, default)
        if value is None:
            raise SpecError(self.where(key), "is required")
        if not isinstance(value, str):
            raise SpecError(self.where(key), f"must be a string, got {_shown(value)}")
        if choices and value not in choices:
            raise SpecError(self.where(key), f"{value!r} is not one of: {', '.join(choices)}")
        return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> int:
        value = self.raw.get(key, default)
        if value is None:
            raise SpecError(self.where(key), "is required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(self.where(key), f"must be a whole number, got {_shown(value)}")
        if not low <= value <= high:
            raise SpecError(self.where(key), f"must be between {low} and {high}, got {value}")
        return value

    def number(
        self, key: str, default: float, low: float, high: float, *, open_low: bool = False
    ) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(self.where(key), f"must be a number, got {_shown(value)}")
        too_low = value <= low if open_low else value < low
        if too_low or value > high:
            bound = f"above {low:g}" if open_low else f"at least {low:g}"
            raise SpecError(self.where(key), f"must be {bound} and at most {high:g}, got {value}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise SpecError(self.where(key), f"must be true or false, got {_shown(value)}")
        return value

    def names(
        self, key: str, choices: tuple[str, ...], default: tuple[str, ...]
    ) -> tuple[str, ...]:
        value = self.raw.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SpecError(self.where(key), f"must be a list of names, got {_shown(value)}")
        for item in value:
            if item not in choices:
                raise SpecError(self.where(key), f"{item!r} is not one of: {', '.join(choices)}")
        return tuple(dict.fromkeys(value))

    def ref(self, key: str, required: bool) -> RepoRef | None:
        value = self.raw.get(key)
        if value is None and not required:
            return None
        if value is None:
            raise SpecError(self.where(key), "is required (owner/name or owner/name@revision)")
        return parse_ref(self.where(key), value)


def parse_ref(where: str, value: object) -> RepoRef:
    match = REF_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise SpecError(
            where, f"must look like owner/name or owner/name@revision, got {_shown(value)}"
        )
    return RepoRef(match["owner"], match["name"], match["rev"])


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_spec(raw: object) -> Spec:
    """Validate a whole spec mapping (the parsed YAML, `on` included) into a `Spec`."""
    if not isinstance(raw, dict):
        raise SpecError("repohub.yaml", f"must be a mapping, got {_shown(raw)}")
    top = _Block("repohub.yaml", {_key(k): v for k, v in raw.items()}, ("on", "train", "eval"))
    train = parse_train(top.raw["train"]) if top.has("train") else None
    evaluation = parse_eval(top.raw["eval"], train) if top.has("eval") else None
    if train is None and evaluation is None:
        raise SpecError("repohub.yaml", "has neither a train nor an eval block")
    return Spec(train, evaluation)


def _key(key: object) -> str:
    """YAML 1.1 reads a bare `on` key as the boolean true (as GitHub Actions files know)."""
    return "on" if key is True else str(key)


TRAIN_FIELDS = (
    "task",
    "model",
    "pretrained",
    "init",
    "dataset",
    "image_size",
    "params",
    "preprocess",
    "early_stopping",
    "resources",
)


def parse_train(raw: object) -> TrainSpec:
    block = _Block("train", raw, TRAIN_FIELDS)
    task = block.string("task", "image-classification", TASKS)
    models = SEGMENTERS if task == "image-segmentation" else CLASSIFIERS
    model = block.string("model", None, models)
    if block.boolean("pretrained", False):
        raise SpecError(
            "train.pretrained",
            "true would download weights from the internet, which RepoHub workers never do: "
            "set it to false, and name weights stored in RepoHub with train.init: "
            "owner/name@revision to fine-tune",
        )
    image_size = block.integer("image_size", 32, 8, 1024)
    if image_size < MIN_IMAGE_SIZE.get(model, 0):
        raise SpecError(
            "train.image_size", f"{model} needs at least {MIN_IMAGE_SIZE[model]}, got {image_size}"
        )
    if task == "image-segmentation" and image_size % 8:
        raise SpecError("train.image_size", f"unet needs a multiple of 8, got {image_size}")
    preprocess = parse_preprocess(block.raw.get("preprocess"))
    early = parse_early_stopping(block.raw.get("early_stopping"), task, preprocess)
    return TrainSpec(
        task=task,
        model=model,
        dataset=block.ref("dataset", required=True),  # type: ignore[arg-type]
        image_size=image_size,
        init=block.ref("init", required=False),
        params=parse_params(block.raw.get("params")),
        preprocess=preprocess,
        early_stopping=early,
        resources=parse_resources(block.raw.get("resources")),
    )


PARAM_FIELDS = tuple(Params.__dataclass_fields__)


def parse_params(raw: object) -> Params:
    b = _Block("train.params", raw, PARAM_FIELDS)
    policy = b.string("lr_policy", "fixed", LR_POLICIES)
    step_size = b.integer("step_size", None, 1, 10**9) if b.has("step_size") else None
    if policy == "step" and step_size is None:
        raise SpecError("train.params.step_size", "is required when lr_policy is step")
    return Params(
        epochs=b.integer("epochs", 10, 1, 10_000),
        batch_size=b.integer("batch_size", 64, 1, 65_536),
        optimizer=b.string("optimizer", "sgd", OPTIMIZERS),
        base_lr=b.number("base_lr", 0.01, 0.0, 10.0, open_low=True),
        momentum=b.number("momentum", 0.9, 0.0, 0.999),
        weight_decay=b.number("weight_decay", 0.0, 0.0, 1.0),
        lr_policy=policy,
        power=b.number("power", 1.0, 0.0, 100.0),
        gamma=b.number("gamma", 0.1, 0.0, 100.0),
        step_size=step_size,
        seed=b.integer("seed", 0, 0, 2**31 - 1),
    )


def parse_preprocess(raw: object) -> Preprocess:
    b = _Block("train.preprocess", raw, ("val_split", "normalize", "augment"))
    return Preprocess(
        val_split=b.number("val_split", 0.1, 0.0, 0.9),
        normalize=b.boolean("normalize", True),
        augment=b.names("augment", AUGMENTATIONS, ()),
    )


def parse_early_stopping(raw: object, task: str, preprocess: Preprocess) -> EarlyStopping | None:
    if raw is None:
        return None
    b = _Block("train.early_stopping", raw, ("metric", "patience"))
    names = ("accuracy", "loss") + (("iou", "dice") if task == "image-segmentation" else ())
    metric = b.string("metric", "val_loss", tuple(f"val_{n}" for n in names))
    if preprocess.val_split == 0:
        raise SpecError(
            "train.early_stopping", "needs a validation split: set train.preprocess.val_split > 0"
        )
    return EarlyStopping(metric, b.integer("patience", 3, 1, 1000))


def parse_resources(raw: object) -> Resources:
    b = _Block("train.resources", raw, ("queue", "gpus", "memory_mb"))
    queue = b.string("queue", "cpu", QUEUES)
    gpus = b.integer("gpus", 0, 0, 16)
    if gpus and queue != "gpu":
        raise SpecError("train.resources.gpus", "needs queue: gpu (cpu workers have no GPU)")
    memory = b.integer("memory_mb", None, 256, 1024**2) if b.has("memory_mb") else None
    return Resources(queue, gpus, memory)


def parse_eval(raw: object, train: TrainSpec | None) -> EvalSpec:
    """Without a train block the task comes from the weights' metadata, so any metric name
    is accepted here and the ones that do not apply are left out of the report."""
    b = _Block("eval", raw, ("dataset", "metrics"))
    dataset = b.ref("dataset", required=False)
    if train is None:
        if dataset is None:
            raise SpecError("eval.dataset", "is required when the spec has no train block")
        everything = tuple(dict.fromkeys(CLASSIFICATION_METRICS + SEGMENTATION_METRICS))
        return EvalSpec(dataset, b.names("metrics", everything, ("accuracy", "confusion_matrix")))
    segmentation = train.task == "image-segmentation"
    choices = SEGMENTATION_METRICS if segmentation else CLASSIFICATION_METRICS
    everything = tuple(dict.fromkeys(choices + CLASSIFICATION_METRICS + SEGMENTATION_METRICS))
    metrics = b.names("metrics", everything, choices)
    for name in metrics:
        if name not in choices:
            raise SpecError("eval.metrics", f"{name!r} does not apply to {train.task}")
    return EvalSpec(dataset or train.dataset, metrics)
