"""What to do to an image before the model's own resize: one frozen, hashable object.

The resolution study sweeps these, the REST API accepts them as JSON, and provenance records them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from ..errors import ConfigError

ResizeMode = Literal["native", "fit", "crop", "stretch"]
Interpolation = Literal["bicubic", "bilinear", "lanczos", "nearest", "box", "hamming"]
AspectSnap = Literal["off", "auto"]
QualityMode = Literal["off", "reject", "penalize"]

RESIZE_MODES: tuple[str, ...] = ("native", "fit", "crop", "stretch")
INTERPOLATIONS: tuple[str, ...] = ("bicubic", "bilinear", "lanczos", "nearest", "box", "hamming")
# name -> (width, height) target; "document" is a minimum width instead (see DOCUMENT_MIN_WIDTH).
PRESETS: dict[str, tuple[int, int] | None] = {
    "general": (1024, 768),
    "product": (1280, 960),
    "art": (800, 600),
    "art-large": (1600, 1200),
    "document": None,
}
DOCUMENT_MIN_WIDTH = 640
SNAP_RATIOS: tuple[tuple[int, int], ...] = ((4, 3), (16, 9), (1, 1))


def size_from_text(text: str) -> tuple[int, int]:
    """``"1024x768"`` -> ``(1024, 768)``; ``ValueError`` when it is not two integers joined by x."""
    width, height = (int(part) for part in text.strip().lower().split("x"))
    return width, height


@dataclass(frozen=True, kw_only=True)
class PreprocessConfig:
    """How one image is prepared before the model sees it.

    Attributes:
        mode: ``native`` keeps the image as it is (what the reference does); ``fit`` scales it
            inside the target and pads; ``crop`` scales it to cover the target and centre-crops;
            ``stretch`` resizes to the target ignoring aspect ratio. Defaults to ``crop`` when a
            target is given (the seed study's advice: crop rather than letterbox), else ``native``.
        size: explicit target ``(width, height)``.
        preset: ``general`` 1024x768, ``product`` 1280x960, ``art`` 800x600, ``art-large``
            1600x1200, or ``document`` (keep the native size, but upscale to at least 640 px wide).
        aspect_snap: ``auto`` centre-crops to the nearest of 4:3, 16:9 or 1:1 (either orientation)
            before resizing.
        interpolation: resampling filter; all but ``nearest`` are antialiased when downscaling.
        pad_color: RGB fill for ``fit``.
        blur_sigma: Gaussian blur standard deviation in output pixels, applied last (0 = off).
        background: RGB colour that transparent pixels are composited on.
        min_pixels / max_pixels: model-side pixel bounds; ``None`` uses the engine's.

    Example:
        >>> PreprocessConfig(preset="general").target
        (1024, 768)
        >>> PreprocessConfig(preset="general").mode
        'crop'
    """

    mode: ResizeMode | None = None
    size: tuple[int, int] | None = None
    preset: str | None = None
    aspect_snap: AspectSnap = "off"
    interpolation: Interpolation = "bicubic"
    pad_color: tuple[int, int, int] = (255, 255, 255)
    blur_sigma: float = 0.0
    background: tuple[int, int, int] = (255, 255, 255)
    min_pixels: int | None = None
    max_pixels: int | None = None

    def __post_init__(self) -> None:
        if self.size is not None and self.preset is not None:
            raise ConfigError("give a target size or a preset, not both")
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.size is not None:
            size = tuple(self.size)
            if len(size) != 2 or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 16384 for v in size
            ):
                raise ConfigError(f"size must be (width, height) in 1..16384 pixels, got {self.size!r}")
            object.__setattr__(self, "size", size)
        for name in ("pad_color", "background"):
            colour = tuple(getattr(self, name))
            if len(colour) != 3 or not all(isinstance(v, int) and 0 <= v <= 255 for v in colour):
                raise ConfigError(f"{name} must be three integers 0..255, got {getattr(self, name)!r}")
            object.__setattr__(self, name, colour)
        if self.mode is None:
            object.__setattr__(self, "mode", "crop" if self.target else "native")
        if self.mode not in RESIZE_MODES:
            raise ConfigError(f"unknown resize mode {self.mode!r}; choose one of {', '.join(RESIZE_MODES)}")
        if self.mode != "native" and self.target is None:
            raise ConfigError(f"resize mode {self.mode!r} needs a target: give size=(w, h) or a sized preset")
        if self.mode == "native" and self.target is not None:
            raise ConfigError("a target size needs resize mode fit, crop or stretch (native keeps the size)")
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(
                f"unknown interpolation {self.interpolation!r}; choose one of {', '.join(INTERPOLATIONS)}"
            )
        if self.aspect_snap not in ("off", "auto"):
            raise ConfigError(f"aspect_snap must be 'off' or 'auto', got {self.aspect_snap!r}")
        if (
            isinstance(self.blur_sigma, bool)
            or not isinstance(self.blur_sigma, (int, float))
            or not 0 <= self.blur_sigma <= 50
        ):
            raise ConfigError(f"blur_sigma must be a number in 0..50, got {self.blur_sigma!r}")
        object.__setattr__(self, "blur_sigma", float(self.blur_sigma))
        for name in ("min_pixels", "max_pixels"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")

    @property
    def target(self) -> tuple[int, int] | None:
        """The target (width, height), from ``size`` or a sized preset."""
        if self.size is not None:
            return self.size
        return PRESETS.get(self.preset) if self.preset else None

    @property
    def is_reference(self) -> bool:
        """True when images reach the model exactly as in the reference implementation."""
        return (
            self.mode == "native"
            and self.preset is None
            and self.aspect_snap == "off"
            and self.blur_sigma == 0
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessConfig:
        """Build from plain data (JSON); unknown keys are an error that lists the valid ones."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"unknown preprocess option(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
            )
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def with_(self, **changes: Any) -> PreprocessConfig:
        try:
            return replace(self, **changes)
        except TypeError as exc:
            raise ConfigError(str(exc)) from None


@dataclass(frozen=True, kw_only=True)
class QualityPolicy:
    """What to do with images whose quality score ``q`` is below ``threshold``.

    ``off`` only reports ``q``; ``reject`` leaves such a document unscored with a message;
    ``penalize`` keeps the raw score and ranks by ``score * min(1, q / threshold)`` (see
    :func:`vlrerank.preprocess.quality.penalized_score`).
    """

    mode: QualityMode = "off"
    threshold: float = 0.65

    def __post_init__(self) -> None:
        if self.mode not in ("off", "reject", "penalize"):
            raise ConfigError(f"quality mode must be off, reject or penalize, got {self.mode!r}")
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, (int, float))
            or not 0 < self.threshold <= 1
        ):
            raise ConfigError(f"quality threshold must be in (0, 1], got {self.threshold!r}")
