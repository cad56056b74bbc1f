"""A labelled set for the quality gate, generated at test time (nothing large is committed).

Clean images are scikit-image's bundled photographs (native size and at 1024 px), the bundled study
sample exactly as ``write_sample`` saves it, and generated content that a fair gate must pass:
documents (dense text, a form, a slide, a receipt, a spreadsheet) and products on pure white,
gradients, skies, line art, and graphics that are mostly one flat colour (a 600x1600 receipt, a flat
blue square alone and on white, "STOP" on plain backgrounds, a screenshot, UI cards on an 8 px grid,
a logo; lossless PNG). Degraded images have one defect each, strong enough that a person would ask
for a better copy: photographs at 1024 px (Gaussian blur sigma >= 2, motion blur, JPEG quality <=
10, heavy noise, over- or under-exposure simulated in linear light, a camera's exposure error), and
pages and graphics with the same defects (``PAGE_DEGRADATIONS``; exposure relative to the page's
paper, ``exposed_page``).

``build()`` returns every case; it is cached, takes ~15 s, and needs scikit-image.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Photographs whose loaders need no download (checked with scikit-image 0.26).
PHOTOS = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry",
    "hubble_deep_field", "retina", "coins", "brick", "grass", "gravel", "cell",
)  # fmt: skip
# scikit-image ships two photographs that are defective on purpose: ``clock`` was taken while moving
# the camera (labelled motion blur here) and ``moon`` is its low-contrast example (left out: it is
# neither clean nor one of the degradations this set measures).
REAL_DEFECTS = (("clock", "motion-blur"),)
# The photographs that carry the degradations: content-rich scenes where each defect is visible.
DEGRADED_FROM = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry",
    "coins", "brick", "gravel", "grass",
)  # fmt: skip
DEGRADATIONS = (  # category, parameter
    ("gaussian-blur", 2.0), ("gaussian-blur", 3.0), ("gaussian-blur", 5.0),
    ("motion-blur", (15, 0.0)), ("motion-blur", (21, 135.0)),
    ("jpeg", 10), ("jpeg", 5),
    ("noise", 30.0), ("noise", 50.0),
    ("overexposed", 2.0), ("overexposed", 3.0),
    ("underexposed", 3.0), ("underexposed", 4.0),
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One labelled image: ``degraded`` is the truth the gate is judged against."""

    name: str
    category: str
    degraded: bool
    image: Image.Image
    sample: bool = False  # from the bundled study sample (must all pass)


def photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB")


def at_1024(image: Image.Image) -> Image.Image:
    scale = 1024 / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)


# -- degradations --------------------------------------------------------------------------------


def _linear(image: Image.Image) -> np.ndarray:
    return (np.asarray(image, np.float64) / 255) ** 2.2


def _srgb(linear: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(255 * np.clip(linear, 0, 1) ** (1 / 2.2)).astype(np.uint8))


def exposed(image: Image.Image, stops: float) -> Image.Image:
    """``stops`` EV away from a metered exposure, then the sensor clips and 8 bits quantise.

    Metering first puts the median luma at mid-grey (118 in sRGB, 18% reflectance), as a camera's
    meter would; the error is relative to that, so a night scene is not "over-exposed" by merely
    being brightened to normal.
    """
    linear = _linear(image)
    luma = linear @ np.array([0.2126, 0.7152, 0.0722])
    metered = 0.18 / max(float(np.median(luma)), 1e-4)
    return _srgb(linear * metered * 2.0**stops)


def motion_blurred(image: Image.Image, length: int, angle: float) -> Image.Image:
    """The average of ``length`` copies shifted along a line: a straight camera shake."""
    pixels = np.asarray(image, np.float64)
    total = np.zeros_like(pixels)
    dx, dy = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    for step in np.linspace(-(length - 1) / 2, (length - 1) / 2, length):
        total += np.roll(pixels, (round(step * dy), round(step * dx)), axis=(0, 1))
    return Image.fromarray(np.round(total / length).astype(np.uint8))


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def noisy(image: Image.Image, sigma: float, seed: int) -> Image.Image:
    pixels = np.asarray(image, np.float64)
    pixels = pixels + np.random.default_rng(seed).normal(0, sigma, pixels.shape)
    return Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))


def exposed_page(image: Image.Image, stops: float) -> Image.Image:
    """A page photographed ``stops`` EV off: paper is the white point, ink reflects 4% at best.

    ``exposed`` meters on the median, which on a page is the paper, so it would call a grey page
    "correct". Here the clean image is the correct exposure: over, the ink washes out towards the
    clipped paper (+3 EV: ink at 60% grey); under, the whole page sinks into the shadows.
    """
    linear = np.maximum(_linear(image), 0.04)
    return _srgb(linear * 2.0**stops)


def degrade(
    image: Image.Image, category: str, parameter: Any, seed: int = 0, page: bool = False
) -> Image.Image:
    if category == "gaussian-blur":
        return image.filter(ImageFilter.GaussianBlur(float(parameter)))
    if category == "motion-blur":
        length, angle = parameter
        return motion_blurred(image, int(length), float(angle))
    if category == "jpeg":
        return jpeg(image, int(parameter))
    if category == "noise":
        return noisy(image, float(parameter), seed)
    stops = float(parameter) if category == "overexposed" else -float(parameter)
    return exposed_page(image, stops) if page else exposed(image, stops)


# -- generated clean content ---------------------------------------------------------------------

_INK = (20, 20, 28)


def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    assert isinstance(font, ImageFont.FreeTypeFont)
    return font


_TEXT = (
    "the quarterly report shows revenue growth in every region while costs stayed flat and the "
    "board approved the plan for next year including two new offices and a hiring freeze for "
    "administration staff until the summer review of all open positions and contracts"
)
_WORDS = tuple(_TEXT.split(" "))


def _text_lines(rng: np.random.Generator, count: int, words: int) -> list[str]:
    return [" ".join(rng.choice(_WORDS, int(rng.integers(words // 2, words)))) for _ in range(count)]


def document(kind: str, seed: int) -> Image.Image:
    """Pages on pure white: dense text, a form, a slide, a receipt and a spreadsheet."""
    rng = np.random.default_rng(seed)
    size = {"receipt": (420, 1100), "slide": (1280, 720)}.get(kind, (1024, 1325))
    page = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(page)
    w = size[0]
    if kind == "dense":
        draw.text((60, 50), "Annual Report 2025", font=_font(40), fill=_INK)
        for i, line in enumerate(_text_lines(rng, 60, 16)):
            draw.text((60, 120 + 19 * i), line, font=_font(15), fill=_INK)
    elif kind == "form":
        draw.text((70, 60), "Application form", font=_font(44), fill=_INK)
        for i, label in enumerate(("Name", "Address", "City", "Phone", "Email", "Date", "Signature")):
            y = 180 + 120 * i
            draw.text((70, y), label, font=_font(26), fill=_INK)
            draw.rectangle((300, y - 10, w - 70, y + 50), outline=(60, 60, 70), width=2)
        for i in range(6):
            draw.rectangle((70 + 150 * i, 1080, 100 + 150 * i, 1110), outline=_INK, width=2)
    elif kind == "slide":
        draw.rectangle((0, 0, w, 110), fill=(30, 60, 120))
        draw.text((60, 28), "Roadmap for the next quarter", font=_font(52), fill=(255, 255, 255))
        for i, line in enumerate(_text_lines(rng, 5, 7)):
            draw.ellipse((70, 190 + 95 * i, 86, 206 + 95 * i), fill=(30, 60, 120))
            draw.text((110, 180 + 95 * i), line, font=_font(36), fill=_INK)
    elif kind == "receipt":
        draw.text((w // 2, 40), "CORNER MARKET", font=_font(34), fill=_INK, anchor="mt")
        for i in range(24):
            y = 120 + 36 * i
            draw.text((30, y), " ".join(rng.choice(_WORDS, 2)), font=_font(22), fill=_INK)
            draw.text((w - 30, y), f"{rng.uniform(0.5, 20):.2f}", font=_font(22), fill=_INK, anchor="ra")
        draw.line((30, 1010, w - 30, 1010), fill=_INK, width=2)
        draw.text((30, 1030), "TOTAL", font=_font(30), fill=_INK)
    else:  # spreadsheet
        for r in range(40):
            for c in range(6):
                x, y = 40 + 160 * c, 60 + 30 * r
                draw.rectangle((x, y, x + 160, y + 30), outline=(190, 190, 190))
                text = f"{rng.uniform(0, 9999):.2f}" if r and c else " ".join(rng.choice(_WORDS, 1))
                draw.text((x + 6, y + 6), text, font=_font(17), fill=_INK)
    return page


def product_on_white(shape: str, colour: tuple[int, int, int], seed: int) -> Image.Image:
    """A shaded product shot on a pure white studio background, with a soft contact shadow."""
    from vlrerank.study.sample.draw import HEIGHT, WIDTH, Shape, label, paint

    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    cx = WIDTH // 2 + int(rng.integers(-200, 201))
    shadow = Image.new("L", (WIDTH, HEIGHT), 255)
    ImageDraw.Draw(shadow).ellipse((cx - 330, 1270, cx + 330, 1340), fill=170)
    image = Image.composite(
        image, Image.new("RGB", image.size, (0, 0, 0)), shadow.filter(ImageFilter.BoxBlur(25))
    )
    draw = ImageDraw.Draw(image)
    if shape == "bottle":
        body: Shape = ("rounded_rectangle", (cx - 200, 520, cx + 200, 1300), {"radius": 60})
        neck: Shape = ("rectangle", (cx - 70, 280, cx + 70, 540), {})
        paint(image, colour, (cx - 200, cx + 200), 0.3, body, neck)
        paint(
            image,
            (250, 248, 240),
            (cx - 200, cx + 200),
            0.1,
            ("rectangle", (cx - 200, 700, cx + 200, 1000), {}),
        )
        label(draw, "PURE SPRING", (cx, 760), 56, _INK)
    elif shape == "box":
        paint(image, colour, (cx - 260, cx + 260), 0.0, ("rectangle", (cx - 260, 400, cx + 260, 1300), {}))
        label(draw, "CRUNCHY MUESLI", (cx, 520), 64, (255, 255, 255))
    else:  # a glossy black hat: a dark product on a bright background
        paint(image, colour, (cx - 500, cx + 500), 0.25, ("ellipse", (cx - 500, 900, cx + 500, 1300), {}))
        paint(
            image,
            colour,
            (cx - 200, cx + 450),
            0.25,
            ("rounded_rectangle", (cx - 200, 650, cx + 450, 1150), {"radius": 120}),
        )
    return image.resize((1024, 768), Image.Resampling.LANCZOS)


def gradient(kind: str, seed: int) -> Image.Image:
    y, x = np.mgrid[0:768, 0:1024].astype(np.float64)
    # Colour pairs far apart: a gradient between two near-identical colours is low contrast indeed.
    pairs = (
        ((250, 120, 20), (30, 60, 200)),
        ((255, 255, 255), (20, 90, 60)),
        ((240, 230, 40), (120, 20, 120)),
    )
    a, b = np.asarray(pairs[seed % 3], np.float64)
    if kind == "linear":
        t = (x / 1024)[..., None]
    elif kind == "radial":
        t = np.clip(np.hypot(x - 512, y - 384) / 640, 0, 1)[..., None]
    else:  # hue sweep
        hue = np.arctan2(y - 384, x - 512) / (2 * np.pi)
        return Image.fromarray(
            (127.5 + 127.5 * np.cos(2 * np.pi * (hue[..., None] + (0, 1 / 3, 2 / 3)))).astype(np.uint8)
        )
    return Image.fromarray((a * (1 - t) + b * t).astype(np.uint8))


def sky(kind: str, seed: int) -> Image.Image:
    from vlrerank.study.sample.draw import art

    rng = np.random.default_rng(seed)
    if kind == "clouds":
        return art("fractal-clouds", rng).resize((1024, 768), Image.Resampling.LANCZOS)
    t = np.linspace(0, 1, 768)[:, None, None]
    top, bottom = {"clear": ((40, 90, 190), (170, 205, 240)), "sunset": ((50, 40, 110), (250, 150, 70))}[kind]
    image = Image.fromarray(
        np.broadcast_to(np.asarray(top) * (1 - t) + np.asarray(bottom) * t, (768, 1024, 3)).astype(np.uint8)
    )
    sun_x = rng.uniform(200, 800)
    ImageDraw.Draw(image).ellipse((sun_x - 50, 500, sun_x + 50, 600), fill=(255, 230, 150))
    return image.filter(ImageFilter.GaussianBlur(1))


def line_art(kind: str, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (1024, 768), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    if kind == "diagram":
        boxes = [(80 + 300 * (i % 3), 120 + 300 * (i // 3)) for i in range(6)]
        for i, (bx, by) in enumerate(boxes):
            draw.rounded_rectangle((bx, by, bx + 220, by + 110), radius=14, outline=_INK, width=3)
            draw.text((bx + 110, by + 55), f"Step {i + 1}", font=_font(28), fill=_INK, anchor="mm")
            if i % 3 < 2:
                draw.line((bx + 220, by + 55, bx + 300, by + 55), fill=_INK, width=3)
                draw.polygon([(bx + 300, by + 55), (bx + 285, by + 47), (bx + 285, by + 63)], fill=_INK)
    elif kind == "chart":
        draw.line((80, 680, 980, 680), fill=_INK, width=2)
        draw.line((80, 60, 80, 680), fill=_INK, width=2)
        for tick in range(1, 10):
            draw.line((80 + 100 * tick, 680, 80 + 100 * tick, 690), fill=_INK, width=2)
            draw.text((80 + 100 * tick, 700), str(2015 + tick), font=_font(18), fill=_INK, anchor="mt")
        points = np.cumsum(rng.normal(0, 40, 10)) + 380
        draw.line([(80 + 100 * i, float(p)) for i, p in enumerate(points)], fill=(200, 40, 40), width=4)
    elif kind == "sketch":
        for _ in range(25):
            cx, cy, r = rng.uniform(100, 924), rng.uniform(100, 668), rng.uniform(20, 160)
            draw.arc(
                (cx - r, cy - r, cx + r, cy + r),
                rng.uniform(0, 180),
                rng.uniform(180, 360),
                fill=_INK,
                width=2,
            )
    elif kind == "horse":
        from skimage import data

        mask = Image.fromarray(np.asarray(data.horse()) * np.uint8(255)).resize(
            (1000, 820), Image.Resampling.NEAREST
        )
        return Image.merge("RGB", (mask, mask, mask))
    else:  # blobs
        from skimage import data

        blobs = np.asarray(data.binary_blobs(length=768, rng=seed), np.uint8) * 255
        return Image.fromarray(blobs).convert("RGB")
    return image


def graphic(kind: str, seed: int) -> Image.Image:
    """Documents and graphics that defeat photo-minded measures: mostly one flat colour.

    A receipt (black text lines on white, 600x1600) and one of 1 px ruled lines, a flat blue square
    alone and on white, "STOP" on plain backgrounds, a screenshot of an app on white, UI cards on an
    8 px grid, and a logo: each is lossless (a PNG decodes to the
    same pixels) and mostly uniform, with its content in a small part of the frame.
    """
    rng = np.random.default_rng(seed)
    if kind == "receipt":
        image = Image.new("RGB", (600, 1600), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        draw.text((300, 40), "SUPERMARKET", font=_font(30), fill=(0, 0, 0), anchor="mt")
        for i in range(34):
            y = 110 + 40 * i
            draw.text((24, y), " ".join(rng.choice(_WORDS, 2)).upper(), font=_font(20), fill=(0, 0, 0))
            draw.text((576, y), f"{rng.uniform(0.5, 20):.2f}", font=_font(20), fill=(0, 0, 0), anchor="ra")
        draw.text((24, 1510), "TOTAL", font=_font(28), fill=(0, 0, 0))
        return image
    if kind == "ruled":  # a receipt reduced to its lines: 1 px black rules of varying length
        image = Image.new("RGB", (600, 1600), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        for i in range(30):
            draw.line((30, 80 + 48 * i, 30 + int(rng.integers(150, 540)), 80 + 48 * i), fill=(0, 0, 0))
        return image
    if kind == "stop-small":  # small "STOP" on a plain mid-grey background
        image = Image.new("RGB", (800, 400), (128, 128, 128))
        ImageDraw.Draw(image).text((400, 200), "STOP", font=_font(60), fill=(0, 0, 0), anchor="mm")
        return image
    if kind == "blue-square":
        return Image.new("RGB", (512, 512), (30, 80, 200))
    if kind == "blue-square-on-white":  # edges on the 8x8 grid, where JPEG blocks would meet
        image = Image.new("RGB", (512, 512), (255, 255, 255))
        ImageDraw.Draw(image).rectangle((128, 128, 383, 383), fill=(30, 80, 200))
        return image
    if kind == "tiles":  # a UI laid out on an 8 px grid: flat cards, bars and buttons
        image = Image.new("RGB", (1024, 768), (246, 247, 250))
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, 1023, 63), fill=(32, 48, 96))
        for i in range(6):
            x, y = 32 + 328 * (i % 3), 96 + 320 * (i // 3)
            draw.rectangle((x, y, x + 303, y + 287), fill=(255, 255, 255), outline=(216, 220, 228))
            draw.rectangle(
                (x + 16, y + 16, x + 287, y + 135), fill=tuple(int(v) for v in rng.integers(40, 220, 3))
            )
            draw.rectangle((x + 16, y + 232, x + 119, y + 263), fill=(52, 120, 246))
        return image
    if kind == "stop":
        background = ((255, 255, 255), (235, 225, 200), (200, 30, 30))[seed % 3]
        ink = (255, 255, 255) if seed % 3 == 2 else (0, 0, 0)
        image = Image.new("RGB", (800, 400), background)
        ImageDraw.Draw(image).text((400, 200), "STOP", font=_font(160), fill=ink, anchor="mm")
        return image
    if kind == "screenshot":
        image = Image.new("RGB", (1280, 800), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, 1280, 48), fill=(240, 240, 243))
        draw.text((20, 14), "Settings", font=_font(20), fill=(40, 40, 40))
        for i, line in enumerate(_text_lines(rng, 8, 8)):
            y = 100 + 70 * i
            draw.text((60, y), line, font=_font(18), fill=(50, 50, 60))
            draw.rounded_rectangle((1100, y - 4, 1160, y + 26), radius=15, fill=(52, 120, 246))
            draw.line((40, y + 45, 1240, y + 45), fill=(225, 225, 230))
        return image
    # logo: a coloured mark and a word, centred on white
    image = Image.new("RGB", (900, 600), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.ellipse((330, 120, 570, 360), fill=(230, 120, 20))
    draw.text((450, 430), "NORTHWIND", font=_font(64), fill=(40, 40, 60), anchor="mt")
    return image


def png(image: Image.Image) -> Image.Image:
    """``image`` through a lossless PNG round trip, as an upload would arrive."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


# Clean graphics, in order (the index is the seed: "stop" 3, 4, 5 is on white, cream and red).
GRAPHICS = (
    "receipt", "blue-square", "blue-square-on-white", "stop", "stop", "stop", "screenshot", "tiles",
    "logo", "ruled", "stop-small",
)  # fmt: skip
# Degradations of documents and graphics: the photographs' defects at strengths a reader notices.
PAGE_DEGRADATIONS = (
    ("gaussian-blur", 2.0), ("gaussian-blur", 3.0),
    ("motion-blur", (15, 0.0)), ("motion-blur", (21, 135.0)),
    ("jpeg", 5),
    ("noise", 30.0), ("noise", 50.0),
    ("overexposed", 3.0), ("underexposed", 3.0),
)  # fmt: skip
# Pages whose degradations are judged: the flat square has no content to blur, compress or expose
# (its degraded copies are as flat as the original), so it only appears clean.
PAGES_DEGRADED = (
    ("document", "dense"), ("document", "slide"), ("document", "spreadsheet"),
    ("graphic", "receipt"), ("graphic", "stop"), ("graphic", "screenshot"),
    ("line-art", "diagram"), ("line-art", "chart"),
)  # fmt: skip


# -- the set -------------------------------------------------------------------------------------


def sample_cases() -> list[Case]:
    """The bundled study sample, rendered and encoded exactly as ``write_sample`` saves it."""
    from vlrerank.study.sample import sample_items

    cases = []
    for item in sample_items(0):
        image = item.render()
        if item.suffix == ".jpg":
            image = jpeg(image, 90)
        cases.append(
            Case(f"sample/{item.category}/{item.name}", f"sample-{item.category}", False, image, True)
        )
    return cases


@cache
def build() -> tuple[Case, ...]:
    cases = sample_cases()
    for name in PHOTOS:
        cases.append(Case(f"photo/{name}", "photo", False, photo(name)))
        cases.append(Case(f"photo-1024/{name}", "photo-1024", False, at_1024(photo(name))))
    for seed, kind in enumerate(("dense", "form", "slide", "receipt", "spreadsheet")):
        cases.append(Case(f"document/{kind}", "document", False, document(kind, seed)))
    products = (
        ("bottle", (40, 120, 200)),
        ("box", (200, 50, 40)),
        ("hat", (30, 30, 34)),
        ("bottle", (240, 200, 40)),
    )
    for seed, (shape, colour) in enumerate(products):
        cases.append(
            Case(
                f"product-white/{shape}-{seed}", "product-white", False, product_on_white(shape, colour, seed)
            )
        )
    for seed, kind in enumerate(("linear", "radial", "hue", "linear")):
        cases.append(Case(f"gradient/{kind}-{seed}", "gradient", False, gradient(kind, seed)))
    for seed, kind in enumerate(("clouds", "clouds", "clear", "sunset")):
        cases.append(Case(f"sky/{kind}-{seed}", "sky", False, sky(kind, seed + 10)))
    for seed, kind in enumerate(("diagram", "chart", "sketch", "horse", "blobs")):
        cases.append(Case(f"line-art/{kind}", "line-art", False, line_art(kind, seed)))
    for seed, kind in enumerate(GRAPHICS):
        cases.append(Case(f"graphic/{kind}-{seed}", "graphic", False, png(graphic(kind, seed))))
    pages = {
        "document": lambda kind: document(kind, 0),
        "graphic": lambda kind: png(graphic(kind, 0)),
        "line-art": lambda kind: line_art(kind, 1),
    }
    for index, (family, kind) in enumerate(PAGES_DEGRADED):
        clean = pages[family](kind)
        for category, parameter in PAGE_DEGRADATIONS:
            image = degrade(clean, category, parameter, seed=index, page=True)
            cases.append(Case(f"page-{category}/{kind}/{parameter}", f"page-{category}", True, image))
    for name, category in REAL_DEFECTS:
        cases.append(Case(f"{category}/{name}/native", category, True, photo(name)))
        cases.append(Case(f"{category}/{name}/1024", category, True, at_1024(photo(name))))
    for index, name in enumerate(DEGRADED_FROM):
        clean = at_1024(photo(name))
        for category, parameter in DEGRADATIONS:
            image = degrade(clean, category, parameter, seed=index)
            cases.append(Case(f"{category}/{name}/{parameter}", category, True, image))
    return tuple(cases)
