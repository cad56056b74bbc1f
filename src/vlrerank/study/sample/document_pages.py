"""Document pages of the sample set: a small sentence corpus and the page renderer."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .draw import _GREY, _INK, HEIGHT, WIDTH, _font, _wrap

_DOCUMENTS = (  # name, kind, title, tag
    ("invoice-northwind", "invoice", "Northwind Office Supplies", "invoice"),
    ("invoice-harbour", "invoice", "Harbour Print Studio", "invoice"),
    ("recipe-tomato-soup", "recipe", "Roasted Tomato Soup", "recipe"),
    ("recipe-banana-bread", "recipe", "Banana Bread", "recipe"),
    ("itinerary-lisbon", "travel", "Travel Itinerary: Three Days in Lisbon", ""),
    ("minutes-project-meeting", "meeting", "Minutes of the Website Project Meeting", ""),
    ("manual-kettle", "manual", "Electric Kettle: Quick Start Guide", ""),
    ("newsletter-library", "newsletter", "Riverside Library Newsletter", ""),
)
_CORPUS = {
    "invoice": (
        "Thank you for your order; this invoice lists every item shipped with your delivery.",
        "Payment is due within thirty days of the invoice date by bank transfer.",
        "Please quote the invoice number as the payment reference so that we can match your transfer.",
        "Prices include packaging and standard delivery to the address we hold on file.",
        "If any item arrived damaged, contact our support team within fourteen days.",
        "Late payments may incur a fee of two percent per month on the outstanding balance.",
    ),
    "recipe": (
        "This simple recipe takes less than an hour and uses ingredients from any corner shop.",
        "Taste as you go and adjust the salt at the end, because stock varies in saltiness.",
        "Leftovers keep well in a closed container in the fridge for up to three days.",
        "Children can help with weighing and mixing while an adult handles the hot oven.",
        "Serve it warm with a slice of fresh bread and a green salad on the side.",
        "A heavy pan spreads the heat evenly and stops the bottom from burning.",
    ),
    "travel": (
        "Your flight lands in the early afternoon, leaving time to check in and explore the old town.",
        "The hotel is a short walk from the river and close to two metro stations.",
        "Trams are the easiest way to climb the steep hills; buy a day ticket at any station.",
        "Most museums close on Mondays, so the plan keeps indoor visits for the other days.",
        "Carry a light jacket, because the evening wind from the ocean can be cool.",
        "Restaurants fill up after eight in the evening, so booking a table is wise.",
    ),
    "meeting": (
        "The team reviewed progress on the new website and agreed that the launch date still holds.",
        "Testing found three problems on mobile phones, and all of them have owners.",
        "The budget remains within the limit approved by the board in January.",
        "Customer interviews showed that people want faster search and clearer prices.",
        "The next meeting will take place on Thursday at ten in the small conference room.",
        "Everyone agreed to send written updates by Wednesday evening.",
    ),
    "manual": (
        "Read these instructions before first use and keep them for future reference.",
        "Place the kettle on a flat, stable surface away from the edge of the counter.",
        "Never fill the kettle above the maximum mark, or boiling water may spill out.",
        "The kettle switches off automatically when the water boils or when it is lifted.",
        "Descale the kettle every month if you live in an area with hard water.",
        "Unplug the base before cleaning, and never put the kettle in water.",
    ),
    "newsletter": (
        "Spring brings longer opening hours, and the reading room now stays open until eight.",
        "Our volunteers repaired more than two hundred books over the winter months.",
        "The children's corner has new picture books in six languages.",
        "Members can now borrow laptops for two weeks at no extra cost.",
        "We thank everyone who donated to the roof appeal; the repairs finish in May.",
        "Please return overdue items so that other readers can enjoy them too.",
    ),
}
_RECIPES = {
    "Roasted Tomato Soup": (
        (
            "1 kg ripe tomatoes, halved",
            "2 red onions, quartered",
            "4 cloves of garlic",
            "3 tablespoons olive oil",
            "750 ml vegetable stock",
            "Salt, black pepper and fresh basil",
        ),
        (
            "Roast the tomatoes, onions and garlic in the oil at 200 degrees for 40 minutes.",
            "Tip everything into a pan, add the stock and simmer for 10 minutes.",
            "Blend until smooth, season with salt and pepper, and serve topped with basil.",
        ),
    ),
    "Banana Bread": (
        (
            "3 very ripe bananas",
            "250 g plain flour",
            "100 g soft brown sugar",
            "75 g melted butter",
            "2 eggs",
            "1 teaspoon baking soda and a pinch of salt",
        ),
        (
            "Mash the bananas, then stir in the butter, sugar and eggs.",
            "Fold in the flour, baking soda and salt.",
            "Bake in a lined loaf tin at 175 degrees for about 55 minutes, until a skewer comes out clean.",
        ),
    ),
}
_INVOICE_ITEMS = (
    ("A4 copy paper, box of 5 reams", 2450),
    ("Black toner cartridge", 6890),
    ("Ballpoint pens, pack of 50", 1275),
    ("Desk organiser, oak", 3400),
    ("Printed business cards, 500", 4200),
    ("Spiral notebooks, pack of 10", 1890),
)

Blocks = list[tuple[str, Any]]  # (kind of block, its content)


def _blocks(kind: str, title: str, rng: np.random.Generator) -> Blocks:
    sentences = [str(s) for s in rng.permutation(_CORPUS[kind])]
    first, second = " ".join(sentences[:3]), " ".join(sentences[3:])
    if kind == "invoice":
        rows, cents = [("Description", "Qty", "Unit price (EUR)", "Amount (EUR)")], 0
        for index in sorted(rng.choice(len(_INVOICE_ITEMS), 4, replace=False)):
            item, price = _INVOICE_ITEMS[index]
            quantity = int(rng.integers(1, 6))
            rows.append((item, str(quantity), f"{price / 100:.2f}", f"{quantity * price / 100:.2f}"))
            cents += quantity * price
        tax = cents // 5
        return [
            ("title", f"INVOICE No. {rng.integers(1000, 10000)}"),
            ("meta", f"{title}  |  Issued 14 March 2025  |  Bill to: Maple Street Bakery, 12 Maple Street"),
            ("p", first),
            ("table", ((0.5, 0.1, 0.2, 0.2), rows)),
            (
                "total",
                f"Subtotal {cents / 100:.2f}   VAT 20% {tax / 100:.2f}   "
                f"TOTAL AMOUNT DUE: EUR {(cents + tax) / 100:.2f}",
            ),
            ("p", second),
        ]
    if kind == "recipe":
        ingredients, steps = _RECIPES[title]
        return [
            ("title", title),
            ("meta", "Serves 4  |  Preparation 20 minutes  |  Cooking 45 minutes"),
            ("p", first),
            ("h", "Ingredients"),
            ("list", ingredients),
            ("h", "Method"),
            ("steps", steps),
        ]
    if kind == "travel":
        plan = [
            ("Day", "Time", "Plan"),
            ("Friday", "14:30", "Arrive at the airport, metro to the hotel in Baixa"),
            ("Friday", "19:30", "Dinner at a seafood restaurant by the river"),
            ("Saturday", "10:00", "Tram 28 to the castle, walk down through Alfama"),
            ("Saturday", "15:00", "Tile museum, then sunset at a viewpoint"),
            ("Sunday", "09:30", "Train to Belem: monastery, tower and custard tarts"),
            ("Sunday", "18:45", "Flight home from terminal 1"),
        ]
        return [
            ("title", title),
            ("meta", "Prepared for Alex Morgan  |  Booking ref. LX4R7Q"),
            ("p", first),
            ("table", ((0.16, 0.12, 0.72), plan)),
            ("p", second),
        ]
    items = {
        "meeting": (
            "Priya to fix the three mobile layout bugs by Friday.",
            "Tom to send the revised budget to finance.",
            "Lena to book user tests for next week.",
        ),
        "manual": (
            "Fill the kettle with fresh water between the MIN and MAX marks.",
            "Close the lid firmly and place the kettle on its base.",
            "Press the switch; the light turns on while the water heats.",
            "Wait for the click, then lift the kettle and pour carefully.",
        ),
        "newsletter": (
            "Story time for children every Saturday at 11:00.",
            "Book club: this month we read a classic travel memoir.",
            "Free computer help sessions on Tuesday afternoons.",
        ),
    }[kind]
    heading = {
        "meeting": "Action items",
        "manual": "Making a hot drink",
        "newsletter": "Coming up this month",
    }[kind]
    meta = {
        "meeting": "Present: Priya, Tom, Lena, Sam  |  Chair: Sam  |  2 April 2025",
        "manual": "Model K-200  |  1.7 litres  |  2200 W",
        "newsletter": "Issue 42  |  Spring edition",
    }[kind]
    return [
        ("title", title),
        ("meta", meta),
        ("p", first),
        ("h", heading),
        ("steps" if kind == "manual" else "list", items),
        ("p", second),
    ]


def _document(kind: str, title: str, rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw, left, right, y = ImageDraw.Draw(image), 120, WIDTH - 120, 110.0
    body = _font(34)
    for block, value in _blocks(kind, title, rng):
        if block == "title":
            draw.text((left, y), str(value), font=_font(72), fill=_INK)
            y += 105
        elif block == "meta":
            draw.text((left, y), str(value), font=_font(32), fill=_GREY)
            draw.line((left, y + 58, right, y + 58), fill=(200, 200, 210), width=3)
            y += 90
        elif block == "h":
            draw.text((left, y), str(value), font=_font(42), fill=_INK, stroke_width=1, stroke_fill=_INK)
            y += 64
        elif block == "p":
            for line in _wrap(str(value), body, right - left):
                draw.text((left, y), line, font=body, fill=_INK)
                y += 48
            y += 26
        elif block in ("list", "steps"):
            for number, item in enumerate(value, start=1):
                if block == "list":
                    draw.ellipse((left + 12, y + 14, left + 24, y + 26), fill=_INK)
                else:
                    draw.text((left, y), f"{number}.", font=body, fill=_INK)
                for line in _wrap(item, body, right - left - 60):
                    draw.text((left + 60, y), line, font=body, fill=_INK)
                    y += 48
            y += 26
        elif block == "table":
            widths, rows = value
            edges = np.cumsum([0, *widths]) * (right - left) + left
            for index, row in enumerate(rows):
                if index == 0:
                    draw.rectangle((left, y - 8, right, y + 50), fill=(232, 236, 244))
                for edge, cell in zip(edges, row, strict=False):
                    draw.text((edge + 12, y), cell, font=_font(32), fill=_INK)
                draw.line((left, y + 50, right, y + 50), fill=(190, 190, 200), width=2)
                y += 60
            y += 20
        else:
            draw.text(
                (right, y),
                str(value),
                font=_font(40),
                fill=_INK,
                anchor="ra",
                stroke_width=1,
                stroke_fill=_INK,
            )
            y += 80
    draw.text(
        (left, HEIGHT - 80),
        "Page 1 of 1  -  sample document generated by vlrerank",
        font=_font(24),
        fill=_GREY,
    )
    return image
