"""Canvas primitives and the drawn images of the sample set: life scenes, product shots and art.

Everything here renders at ``WIDTH`` x ``HEIGHT`` and is deterministic given its random generator.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

WIDTH, HEIGHT = 2048, 1536  # every image of the sample set has this size

_PRODUCTS = (  # name, shape, colour, brand, product words, tag
    ("orange-juice-sunvale", "bottle", (244, 132, 20), "SUNVALE", "Orange Juice", "orange-juice"),
    ("orange-juice-citrina", "bottle", (250, 160, 30), "CITRINA", "Fresh Orange Juice", "orange-juice"),
    ("apple-juice-orchard", "bottle", (120, 170, 50), "ORCHARD", "Apple Juice", ""),
    ("olive-oil-verde", "bottle", (95, 110, 30), "VERDE", "Olive Oil", ""),
    ("cereal-honey-flakes", "box", (230, 170, 30), "GOLDFIELD", "Honey Flakes Breakfast Cereal", "cereal"),
    ("cereal-crunchy-oats", "box", (200, 55, 45), "MORNING MILL", "Crunchy Oat Breakfast Cereal", "cereal"),
    ("detergent-fresh-wave", "box", (40, 105, 200), "FRESH WAVE", "Laundry Detergent Powder", ""),
    ("mug-brewhouse", "mug", (45, 110, 150), "BREWHOUSE", "Coffee Mug", ""),
)
_ART = (
    ("cells-1", "cells"),
    ("cells-2", "cells"),
    ("ripples-1", "ripples"),
    ("ripples-2", "ripples"),
    ("truchet-tiles", ""),
    ("fractal-clouds", ""),
    ("colour-gradient", ""),
    ("wavy-stripes", ""),
)
_SCENES = ("sunset", "mountains", "meadow", "night")
_INK, _GREY = (25, 25, 35), (95, 95, 110)


def _font(size: int) -> ImageFont.FreeTypeFont:
    return _thread_font(size, threading.get_ident())


@cache
def _thread_font(size: int, thread: int) -> ImageFont.FreeTypeFont:
    # One font object per thread: images render in parallel and a FreeType face is not thread-safe.
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # a Pillow without FreeType ignores size
        raise RuntimeError("the sample set needs Pillow with FreeType support for scalable text")
    return font


def _grid() -> tuple[np.ndarray, np.ndarray]:
    # Coordinates in units of the image height, so shapes keep their proportions.
    y, x = np.ogrid[0:HEIGHT, 0:WIDTH]
    return x.astype(np.float32) / HEIGHT, y.astype(np.float32) / HEIGHT


def _rgb(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _vertical(top: tuple[int, ...], bottom: tuple[int, ...]) -> np.ndarray:
    t = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    column = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    return np.broadcast_to(column, (HEIGHT, WIDTH, 3))


def _palette(t: np.ndarray, phase: np.ndarray) -> np.ndarray:
    # Cosine palettes give smooth, saturated colour ramps from four numbers.
    return 255 * (0.5 + 0.5 * np.cos(2 * np.pi * (t[..., None] + phase)))


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _scene(kind: str, rng: np.random.Generator) -> Image.Image:
    skies = {
        "sunset": ((40, 40, 110), (250, 150, 70)),
        "mountains": ((60, 120, 210), (190, 220, 245)),
        "meadow": ((90, 150, 230), (205, 228, 250)),
        "night": ((5, 8, 30), (30, 40, 90)),
    }
    image = _rgb(_vertical(*skies[kind]))
    draw = ImageDraw.Draw(image)
    horizon = int(HEIGHT * rng.uniform(0.6, 0.7))
    ground = {
        "sunset": (20, 45, 95),
        "mountains": (85, 115, 70),
        "meadow": (70, 150, 60),
        "night": (15, 20, 25),
    }
    if kind == "night":
        for sx, sy, r in zip(
            rng.uniform(0, WIDTH, 300), rng.uniform(0, horizon, 300), rng.uniform(1, 4, 300), strict=True
        ):
            draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(240, 240, 255))
    sun_x, sun_y = rng.uniform(300, WIDTH - 300), horizon - (80 if kind == "sunset" else 900)
    sun = {"sunset": (255, 200, 90), "night": (235, 235, 210)}.get(kind, (255, 235, 140))
    draw.ellipse((sun_x - 140, sun_y - 140, sun_x + 140, sun_y + 140), fill=sun)
    for _ in range(6 if kind == "mountains" else 0):
        px, py, half = rng.uniform(0, WIDTH), horizon - rng.uniform(300, 650), rng.uniform(350, 600)
        draw.polygon([(px - half, horizon), (px, py), (px + half, horizon)], fill=(110, 110, 125))
        snow = py + (horizon - py) * 0.25  # the top quarter of each peak is white
        draw.polygon([(px - half / 4, snow), (px, py), (px + half / 4, snow)], fill=(250, 250, 255))
    draw.rectangle((0, horizon, WIDTH, HEIGHT), fill=ground[kind])
    for _ in range(14 if kind == "sunset" else 0):  # sun reflections on the water
        ly, half = rng.uniform(horizon + 20, HEIGHT), rng.uniform(40, 220)
        draw.line((sun_x - half, ly, sun_x + half, ly), fill=(240, 150, 70), width=6)
    for _ in range(7 if kind == "meadow" else 0):
        tx, ty = rng.uniform(100, WIDTH - 100), horizon + rng.uniform(40, 300)
        draw.rectangle((tx - 18, ty - 160, tx + 18, ty), fill=(100, 70, 40))
        draw.ellipse((tx - 110, ty - 400, tx + 110, ty - 130), fill=(30, 110, 45))
    return image


Shape = tuple[str, Any, dict[str, int]]  # ImageDraw method, its xy, its options


def paint(
    image: Image.Image, colour: tuple[int, ...], span: tuple[int, int], gloss: float, *shapes: Shape
) -> None:
    """Fill the union of shapes with colour, shaded across span (x0, x1) like a lit object."""
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    draw = ImageDraw.Draw(mask)
    for method, xy, options in shapes:
        # A width means an outline (the mug handle); everything else is a filled shape.
        getattr(draw, method)(xy, **({"outline": 255} if "width" in options else {"fill": 255}), **options)
    box = mask.getbbox()
    if box is None:
        return
    t = np.clip((np.arange(box[0], box[2], dtype=np.float32) - span[0]) / (span[1] - span[0]), 0, 1)
    # Glossy means a front-lit cylinder: darker edges, a highlight left of centre. Matte is a flat face.
    light = 0.6 + 0.4 * np.clip(np.sin(np.pi * t), 0, 1) ** 0.6 if gloss else 1.0 - 0.12 * t
    row = (
        np.asarray(colour, np.float32) * light[:, None]
        + 255 * gloss * np.exp(-(((t - 0.3) / 0.07) ** 2))[:, None]
    )
    layer = np.broadcast_to(np.clip(row, 0, 255).astype(np.uint8), (box[3] - box[1], box[2] - box[0], 3))
    image.paste(Image.fromarray(np.ascontiguousarray(layer)), box[:2], mask.crop(box))


def _shade(colour: tuple[int, ...], factor: float) -> tuple[int, ...]:
    return tuple(min(255, int(c * factor)) for c in colour)


def label(
    draw: ImageDraw.ImageDraw, text: str, at: tuple[float, float], size: int, fill: tuple[int, ...]
) -> float:
    """Draw text centred on at[0], wrapped to the label width; return the y below it."""
    x, y = at
    for line in _wrap(text, _font(size), 420):
        draw.text((x, y), line, font=_font(size), fill=fill, anchor="mt")
        y += size * 1.2
    return y


def _product(
    shape: str, colour: tuple[int, ...], brand: str, words: str, rng: np.random.Generator
) -> Image.Image:
    tint = rng.integers(-6, 7, 3)
    background = _vertical(tuple(np.array((226, 229, 236)) + tint), tuple(np.array((250, 250, 247)) + tint))
    cx = WIDTH // 2 + int(rng.integers(-120, 121))
    # The contact shadow is blurred at quarter size: the same look at a sixteenth of the cost.
    shadow = Image.new("L", (WIDTH // 4, HEIGHT // 4), 0)
    ImageDraw.Draw(shadow).ellipse(((cx - 360) / 4, 1265 / 4, (cx + 380) / 4, 1345 / 4), fill=255)
    shadow = shadow.filter(ImageFilter.GaussianBlur(10)).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
    image = _rgb(background * (1 - 0.45 * np.asarray(shadow, np.float32)[..., None] / 255))
    draw, dark, white = ImageDraw.Draw(image), _shade(colour, 0.45), (255, 255, 255)
    if shape == "bottle":
        x0, x1, top = cx - 220, cx + 220, 560
        shoulder = [(x0 + 10, top + 80), (cx - 80, top - 170), (cx + 80, top - 170), (x1 - 10, top + 80)]
        neck = (cx - 80, top - 330, cx + 80, top - 160)
        body = ("rounded_rectangle", (x0, top, x1, 1310), {"radius": 70})
        paint(image, colour, (x0, x1), 0.35, body, ("polygon", shoulder, {}), ("rectangle", neck, {}))
        cap = (cx - 95, top - 410, cx + 95, top - 320)
        paint(image, (60, 60, 66), (cx - 95, cx + 95), 0.2, ("rounded_rectangle", cap, {"radius": 14}))
        paint(image, (250, 247, 238), (x0, x1), 0.12, ("rectangle", (x0, top + 170, x1, top + 560), {}))
        label(draw, words, (cx, label(draw, brand, (cx, top + 220), 64, dark) + 30), 46, _INK)
    elif shape == "box":
        x0, x1, y0, y1, dx, dy = cx - 300, cx + 200, 430, 1300, 150, 100
        side = [(x1, y0), (x1 + dx, y0 - dy), (x1 + dx, y1 - dy), (x1, y1)]
        lid = [(x0, y0), (x0 + dx, y0 - dy), (x1 + dx, y0 - dy), (x1, y0)]
        paint(image, _shade(colour, 0.68), (x1, x1 + dx), 0.0, ("polygon", side, {}))
        paint(image, _shade(colour, 1.15), (x0, x1), 0.0, ("polygon", lid, {}))
        paint(image, colour, (x0, x1), 0.0, ("rectangle", (x0, y0, x1, y1), {}))
        label(draw, brand, ((x0 + x1) / 2, y0 + 110), 72, white)
        draw.rectangle((x0 + 30, y0 + 300, x1 - 30, y0 + 560), fill=(252, 250, 244))
        label(draw, words, ((x0 + x1) / 2, y0 + 330), 52, _INK)
        draw.ellipse((x0 + 60, y1 - 250, x0 + 240, y1 - 70), fill=white)
        draw.text((x0 + 150, y1 - 160), "750 g", font=_font(40), fill=dark, anchor="mm")
    else:
        x0, x1, y0, y1 = cx - 280, cx + 240, 700, 1290
        handle = (x1 - 80, y0 + 110, x1 + 190, y0 + 450)
        paint(image, colour, (x1, x1 + 190), 0.2, ("ellipse", handle, {"width": 60}))
        paint(image, colour, (x0, x1), 0.3, ("rounded_rectangle", (x0, y0, x1, y1), {"radius": 50}))
        paint(image, _shade(colour, 1.2), (x0, x1), 0.1, ("ellipse", (x0, y0 - 45, x1, y0 + 45), {}))
        draw.ellipse((x0 + 25, y0 - 28, x1 - 25, y0 + 28), fill=(70, 42, 25))  # the coffee inside
        below = label(draw, brand, ((x0 + x1) / 2, y0 + 200), 64, white)
        label(draw, words, ((x0 + x1) / 2, below + 20), 44, (235, 240, 245))
    return image


def art(kind: str, rng: np.random.Generator) -> Image.Image:
    x, y = _grid()
    phase = rng.uniform(0, 1, 3).astype(np.float32)
    if kind.startswith("cells"):
        count = 34
        px, py = rng.uniform(0, WIDTH / HEIGHT, count), rng.uniform(0, 1, count)
        nearest = np.full((HEIGHT, WIDTH), np.inf, np.float32)
        second, owner = nearest.copy(), np.zeros((HEIGHT, WIDTH), np.int16)
        for i in range(count):
            d = (x - np.float32(px[i])) ** 2 + (y - np.float32(py[i])) ** 2
            closer = d < nearest
            second = np.where(closer, nearest, np.minimum(second, d))
            owner[closer], nearest = i, np.where(closer, d, nearest)
        colours = _palette(rng.uniform(0, 1, count).astype(np.float32), phase)
        pixels = colours[owner] * (1.1 - 1.6 * np.sqrt(nearest))[..., None]
        lead = np.clip((np.sqrt(second) - np.sqrt(nearest) - 0.004) / 0.003, 0, 1)[..., None]
        return _rgb(pixels * lead + np.float32(30) * (1 - lead))
    if kind.startswith("ripples"):
        # One strong source gives clear concentric rings; a weak second one adds a little interference.
        waves = np.zeros((HEIGHT, WIDTH), np.float32)
        for sx, sy, k, amplitude in zip(
            rng.uniform(0.4, 0.9, 2),
            rng.uniform(0.3, 0.7, 2),
            rng.uniform(45, 70, 2),
            (1.0, 0.25),
            strict=True,
        ):
            r = np.sqrt((x - np.float32(sx)) ** 2 + (y - np.float32(sy)) ** 2)
            waves += np.float32(amplitude) * np.sin(np.float32(k) * r) * np.exp(-1.2 * r)
        return _rgb(_palette(0.22 * waves + 0.25 * y, phase))
    if kind == "truchet-tiles":
        tile = np.float32(1 / 12)
        u, v = (x / tile) % 1, (y / tile) % 1
        flips = rng.integers(0, 2, (12, 17)).astype(bool)[(y / tile).astype(int), (x / tile).astype(int)]
        u = np.where(flips, 1 - u, u)
        d = np.minimum(np.abs(np.hypot(u, v) - 0.5), np.abs(np.hypot(1 - u, 1 - v) - 0.5))
        band = np.clip((0.14 - d) / 0.02, 0, 1)[..., None]
        return _rgb(
            _palette(0.25 * x + 0.2 * y, phase) * band + _palette(0.3 * y, phase + 0.5) * 0.35 * (1 - band)
        )
    if kind == "fractal-clouds":
        noise = np.zeros((HEIGHT, WIDTH), np.float32)
        for octave in range(7):
            grid = rng.random((3 * 2**octave + 1, 4 * 2**octave + 1)).astype(np.float32)
            layer = Image.fromarray(grid).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
            noise += np.asarray(layer, np.float32) * 0.55**octave
        noise = (noise - noise.min()) / (noise.max() - noise.min())
        return _rgb(
            _vertical((30, 70, 160), (120, 170, 230)) * (1 - noise[..., None] ** 2)
            + 250 * noise[..., None] ** 2
        )
    if kind == "colour-gradient":
        angle = rng.uniform(0, np.pi)
        t = 0.45 * (x * np.cos(angle) + y * np.sin(angle))
        for bx, by in zip(rng.uniform(0, 1.33, 5), rng.uniform(0, 1, 5), strict=True):
            t = t + 0.25 * np.exp(-((x - np.float32(bx)) ** 2 + (y - np.float32(by)) ** 2) / 0.04)
        return _rgb(_palette(t, phase))
    t = 7 * y + 0.35 * np.sin(4 * x + phase[0] * 6) + 0.15 * np.sin(11 * x + 3 * y)
    return _rgb(_palette(0.12 * t + 0.15 * np.sin(2 * np.pi * t), phase))
