"""The bench config file (configs/bench/default.yaml): data sets, the augmentation preset, arms and
profiles. Paths are relative to the config file."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, ValidationError

ArmName = Literal["base", "base-steps", "base-long", "classical", "copy-paste", "augmented",
                  "augmented+classical"]
ARM_NAMES: tuple[str, ...] = ArmName.__args__  # type: ignore[attr-defined]
# the cause arms (bench/causes.py): geometry, appearance, bg-<kind>, bg-image-plain, shadow-<kind>, no-logo
CAUSE_PATTERN = r"^(geometry|appearance|no-logo|bg-[a-z]+|bg-image-plain|shadow-[a-z]+)$"


class SetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "base"
    path: str = Field(description="a COCO folder (annotations.json) or an image+mask folder (images/, masks/)")
    format: Literal["auto", "coco", "masks"] = "auto"
    limit: int | None = Field(None, ge=1, description="at most this many images (first by file name)")
    stems: str | None = Field(None, description="a text file (relative to `path`) listing the stems to use")
    optional: bool = Field(False, description="a missing set is reported and skipped instead of an error")
    instances: bool | None = Field(None, description="read the COCO instances for the instance mAP "
                                                     "(None: when the set is a COCO folder)")


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    size: int = Field(64, ge=16, description="side of the square bench frame (train and test), px")
    base_images: int | None = Field(None, ge=2, description="first N base images (None: all)")
    val_images: int | None = Field(None, ge=1, description="first N images of each validation set")
    test_images: int | None = Field(None, ge=1, description="first N images of each test set")
    epochs: int = Field(16, ge=1, description="epochs of the base and augmented arms (epoch-matched)")
    batch: int = Field(16, ge=1)
    lr: float = Field(3e-3, gt=0)
    widths: list[int] = Field([8, 16, 32, 64], min_length=1, description="U-Net channels per level")
    seeds: int = Field(3, ge=1)
    workers: int = Field(1, ge=1, description="pipeline workers for the augmented set")
    threads: int | None = Field(None, ge=1, description="torch CPU threads per training process (None: torch's "
                                                       "default with jobs 1, else 1)")
    jobs: int = Field(1, ge=1, description="training processes running (seed, arm) runs side by side")
    arms: list[str] | None = Field(None, description="this profile's arms (None: the config's `arms`)")


class AffineSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p: float = Field(0.7, ge=0, le=1)
    scale: tuple[float, float] = (0.75, 1.33)
    translate: float = Field(0.12, ge=0, le=0.5, description="± fraction of the side, each axis")
    rotate: float = Field(15.0, ge=0, le=180, description="± degrees")


class CropSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p: float = Field(0.3, ge=0, le=1)
    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (0.75, 1.333)


class JitterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p: float = Field(0.8, ge=0, le=1)
    brightness: float = Field(0.25, ge=0)
    contrast: float = Field(0.25, ge=0)
    saturation: float = Field(0.3, ge=0)
    hue: float = Field(0.022, ge=0, le=0.5, description="fraction of the hue circle (0.022 ≈ ±8°)")


class ClassicalSpec(BaseModel):
    """The classical arm's albumentations recipe, applied on the fly to every training sample."""
    model_config = ConfigDict(extra="forbid")
    hflip: float = Field(0.5, ge=0, le=1, description="HorizontalFlip p")
    affine: AffineSpec = Field(default_factory=AffineSpec, description="Affine (shift, scale, rotate)")
    random_resized_crop: CropSpec = Field(default_factory=CropSpec, description="RandomResizedCrop")
    color_jitter: JitterSpec = Field(default_factory=JitterSpec, description="ColorJitter")


class BenchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    description: str = ""
    base: SetSpec
    preset: str = Field(description="augmentation preset that expands the base set")
    expansion: int = Field(1, ge=1, description="augmented (and copy-paste) images per base image")
    val: list[SetSpec] = Field([], description="validation sets (learning curves, epochs to converge)")
    tests: list[SetSpec] = Field(min_length=1)
    arms: list[ArmName | Annotated[str, StringConstraints(pattern=CAUSE_PATTERN)]] = list(ARM_NAMES)
    cause_arms: list[Annotated[str, StringConstraints(pattern=CAUSE_PATTERN)]] = Field(
        [], description="the arms that separate the causes (`--arms causes` runs them)")
    classical: ClassicalSpec = Field(default_factory=ClassicalSpec)
    long_factor: float = Field(2.0, gt=1, description="base-long trains this × the augmented arm's steps")
    pad: Literal["replicate", "constant"] = "replicate"
    profile: str = "default"
    profiles: dict[str, Profile]

    _path: Path | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        return self._path

    def resolve(self, p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() or self._path is None else (self._path.parent / q)


class BenchConfigError(Exception):
    pass


def load_bench_config(path: Path) -> BenchConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise BenchConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise BenchConfigError(f"{path}: invalid YAML: {e}") from None
    try:
        cfg = BenchConfig.model_validate(raw)
    except ValidationError as e:
        lines = [f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise BenchConfigError(f"{path}:\n  " + "\n  ".join(lines)) from None
    cfg._path = path
    names = [t.name for t in cfg.tests]
    if len(set(names)) != len(names):
        raise BenchConfigError(f"{path}: test set names must be unique ({names})")
    return cfg
