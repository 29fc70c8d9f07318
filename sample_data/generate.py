"""Generate the workbench's bundled sample dataset: a small, synthetic Pinterest-like graph.

Run ``python sample_data/generate.py`` to (re)write, next to this script:

* ``pins.csv``   -- ``pin,title,description,image,topic,color``
* ``boards.csv`` -- ``board,name,topic``
* ``edges.csv``  -- ``board,pin,timestamp`` (one row per pin saved to a board)
* ``images/``    -- one flat-illustration PNG per pin (``images/p00042.png``)
* ``truth/near_duplicates.json`` -- ground truth: near-duplicate pin -> the pin it copies

Everything is drawn from a fixed seed, with no network and no downloaded assets, so running the
script again reproduces every file byte for byte (given the same numpy, Pillow and zlib).
``--check`` prints statistics of the files on disk; ``--sheet PATH`` draws a contact sheet.

The model
---------
*Pins.* Each pin belongs to one of twelve topics. Within its topic it gets a drawing *variant*
(tulip / daisy / rose for flowers, sailboat / lighthouse / surf for ocean, ...), a noun naming
that variant and a subject colour. The title and description are filled in from topic-specific
templates with that noun and colour. ``color`` is the subject's colour (the sea's for ocean
scenes); desserts name it as a flavour (pink: strawberry, brown: chocolate, ...).

*Images.* Every topic has a recognisable style: its own backgrounds and palette (skies and
ground for outdoor topics, tables for food, studio walls for fashion, night sky for space) and a
characteristic foreground object -- a flower, boat, peak, plate, building, car, cat, garment,
planet, tree, cake or bold shape -- placed at a random position and scale, in the subject colour,
among a random amount of clutter. Outdoor scenes also share objects across topics (a sun, a
hot-air balloon, a street lamp), so a crop of one object finds it in other topics' images too.
A few pins are *near-duplicates*: the same drawing as another pin, shifted by a few pixels and
slightly recoloured. Drawings are made at twice the size and box-filtered down (anti-aliasing).

*Graph.* Boards get a main topic (each topic gets boards in proportion to its pins) and none,
one or two secondary topics, preferably related ones (flowers with desserts, mountains with
forests, ...); the main topic takes 65-90% of a board's pins. Board sizes are log-normal. Within
a topic, pins are drawn without replacement with Zipf weights (rank ** -ZIPF_EXPONENT) over a
random popularity rank, so a few pins are on most boards of their topic and about half are on one
to five boards. (A pin can only be on boards that touch its topic, about 50 of them, and there
are ~9 saves per pin on average, which bounds how skewed the degrees can get.) Pins that no
board drew are saved to one board of their own topic, so every pin is on at least one board.
An edge's timestamp comes after both its board and its pin were created.

Independent random streams are used for the pin attributes, the graph, each pin's drawing and
each pin's text, so tuning one part does not reshuffle the others.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageDraw

SEED = 20240611
N_PINS = 1700
N_BOARDS = 300
N_NEAR_DUPLICATES = 24
IMAGE_SIZE = 96
SUPERSAMPLE = 2
ZIPF_EXPONENT = 2.2  # pin popularity within a topic: weight = rank ** -ZIPF_EXPONENT
BOARD_MEDIAN = 49  # median board size (log-normal, sigma 0.7, clipped to 10..150)
OUT_DIR = Path(__file__).resolve().parent

# Independent random streams (see the module docstring).
STREAM_PINS, STREAM_GRAPH, STREAM_DRAW, STREAM_TEXT, STREAM_DUP = 1, 2, 3, 4, 5

# The edge timestamps lie in [START, END]; boards and pins are created before END.
START = np.datetime64("2019-01-01T00:00:00", "s")
END = np.datetime64("2024-12-31T23:59:59", "s")

RGB = tuple[int, int, int]
Point = tuple[float, float]
Rng = np.random.Generator
T = TypeVar("T")
L = float(IMAGE_SIZE)

COLORS: dict[str, RGB] = {
    "red": (205, 45, 45),
    "orange": (238, 135, 40),
    "yellow": (245, 205, 50),
    "green": (80, 165, 75),
    "dark green": (35, 100, 55),
    "olive": (120, 130, 50),
    "mint": (150, 220, 185),
    "teal": (25, 135, 135),
    "turquoise": (55, 195, 200),
    "blue": (50, 110, 205),
    "navy": (30, 45, 100),
    "purple": (130, 70, 170),
    "lavender": (185, 160, 220),
    "pink": (240, 140, 180),
    "white": (245, 245, 240),
    "cream": (245, 230, 195),
    "beige": (215, 190, 150),
    "brown": (125, 78, 45),
    "grey": (140, 140, 148),
    "black": (38, 38, 44),
}


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One kind of drawing within a topic, the nouns that name it and its possible colours."""

    nouns: tuple[str, ...]
    colors: tuple[str, ...]


@dataclass(frozen=True)
class Topic:
    name: str
    variants: dict[str, Variant]
    titles: tuple[str, ...]  # templates: {Color} {color} {noun} {Noun} {a_color} {a_noun} {flavor}
    scenes: tuple[str, ...]  # first sentence of a description, same placeholders
    tips: tuple[str, ...]  # last sentence of a description
    boards: tuple[str, ...]  # phrases that name a board
    related: tuple[str, ...]  # topics a board of this topic likes to mix in


def options(text: str) -> tuple[str, ...]:
    """Split a ``" | "``-separated list of phrases."""
    return tuple(part.strip() for part in text.split("|"))


def variant(nouns: str, colors: str = "") -> Variant:
    return Variant(options(nouns), options(colors) if colors else ())


TOPICS: tuple[Topic, ...] = (
    Topic(
        "flowers",
        {
            "tulip": variant("tulip", "red | pink | yellow | purple | orange | white"),
            "daisy": variant("daisy | aster | cosmos", "white | yellow | pink | lavender"),
            "rose": variant("rose | peony | poppy | ranunculus", "red | pink | white | orange"),
        },
        options(
            "{Color} {noun} bouquet | {Color} {noun} in full bloom | Wild {color} {noun}"
            " | {Color} {noun} close-up | A single {color} {noun} | {Color} {noun} from the garden"
            " | Spring {color} {noun}"
        ),
        options(
            "{A_color} {noun} picked from the garden this morning."
            " | Hand-tied {color} {noun} stems against a soft background."
            " | {A_color} {noun} catching the first warm light of spring."
            " | A simple flat illustration of {a_color} {noun}."
        ),
        options(
            "Great for spring table ideas. | Easy to grow in a sunny border."
            " | Lovely as a wedding centerpiece. | Save it for your next bouquet."
        ),
        options(
            "Spring flowers | Garden blooms | Bouquet ideas | Wildflower meadows"
            " | Cut flower garden | Floral inspiration"
        ),
        ("forest", "desserts", "fashion"),
    ),
    Topic(
        "ocean",
        {
            "sailboat": variant("sailboat | yacht | small sailboat"),
            "lighthouse": variant("lighthouse | harbor lighthouse"),
            "surf": variant("breaking wave | rolling wave"),
        },
        options(
            "{Noun} on a {color} sea | {Color} sea with {a_noun} | {Noun} on {color} water at dusk"
            " | Coastal view: {color} sea and {a_noun} | {Noun} off a quiet {color} coast"
        ),
        options(
            "{A_noun} on {color} water, far from the crowds."
            " | Salt air, {color} water and {a_noun}."
            " | A flat seascape: {color} sea, gentle waves and {a_noun}."
        ),
        options(
            "Add it to your summer travel list. | Perfect for a coastal home print."
            " | Best seen early in the morning."
        ),
        options(
            "Coastal walks | Ocean views | Beach days | Sailing adventures | Seaside living"
            " | By the sea"
        ),
        ("mountains", "forest", "architecture"),
    ),
    Topic(
        "mountains",
        {
            "peaks": variant("alpine peak | snowy summit | mountain"),
            "lake": variant("lakeside peak | lakeside summit"),
            "volcano": variant("volcano"),
        },
        options(
            "{Color} {noun} at sunrise | Hiking toward the {color} {noun}"
            " | {Color} {noun} above the valley | The {color} {noun} on a clear day"
            " | Morning light on the {color} {noun}"
        ),
        options(
            "{A_color} {noun} rising above the valley floor."
            " | Layered ridges and {a_color} {noun} on a long day hike."
            " | Trail view of {a_color} {noun}."
        ),
        options(
            "Pack layers: it gets cold up there. | A classic day hike for early summer."
            " | Worth the climb for the view alone."
        ),
        options(
            "Mountain hikes | Alpine adventures | Into the mountains | Summit views"
            " | Trail inspiration | High places"
        ),
        ("forest", "ocean", "space"),
    ),
    Topic(
        "food",
        {
            "pizza": variant("pizza | margherita pizza | pepperoni pizza", "red | orange"),
            "salad": variant("green salad | garden salad | summer salad", "green | olive"),
            "pasta": variant("spaghetti | pasta | tagliatelle", "yellow | beige"),
            "eggs": variant("fried egg breakfast | sunny-side-up egg", "yellow | orange"),
            "soup": variant("soup | creamy soup | hearty soup", "red | orange | green"),
        },
        options(
            "Homemade {noun} | Easy weeknight {noun} | {Noun} in 20 minutes"
            " | The best {noun} recipe | Rustic {noun} for two | Simple Sunday {noun}"
        ),
        options(
            "Fresh {noun}, ready to share. | Simple {noun} with seasonal ingredients."
            " | Our go-to {noun}: quick and comforting. | Colorful {noun} for a slow weekend."
        ),
        options(
            "Full recipe on the blog. | Ready in under half an hour. | Great for meal prep."
            " | Kids love this one."
        ),
        options(
            "Weeknight dinners | Healthy recipes | Comfort food | Meal prep | Italian cooking"
            " | Brunch ideas"
        ),
        ("desserts", "flowers", "cats"),
    ),
    Topic(
        "architecture",
        {
            "townhouse": variant("townhouse | row house | cottage"),
            "tower": variant("apartment tower | office tower"),
            "shopfront": variant("shopfront | corner cafe | bakery front"),
        },
        options(
            "{Color} {noun} facade | {Color} {noun} in the old town | Minimal {color} {noun}"
            " | {Color} {noun} with tall windows | Street view: {a_color} {noun}"
            " | The little {color} {noun}"
        ),
        options(
            "{A_color} {noun} with a neat grid of windows."
            " | Spotted this {color} {noun} on a city walk."
            " | Clean lines and {color} walls: {a_noun} worth a detour."
        ),
        options(
            "Great reference for urban sketching. | Facade inspiration for your next renovation."
            " | One of many on this street."
        ),
        options(
            "Architecture | Colorful facades | Urban sketching | Dream homes | City walks"
            " | Modern buildings"
        ),
        ("geometry", "cars", "ocean"),
    ),
    Topic(
        "cars",
        {
            "coupe": variant("coupe | sports car | roadster"),
            "hatchback": variant("hatchback | city car"),
            "pickup": variant("pickup truck | pickup"),
            "van": variant("camper van | minivan"),
        },
        options(
            "{Color} {noun} | {Color} {noun} on an open road | Restored {color} {noun}"
            " | {Color} {noun} road trip | Classic {color} {noun} | My dream: {a_color} {noun}"
        ),
        options(
            "{A_color} {noun} parked by the roadside."
            " | Road trip ready: {a_color} {noun} with plenty of miles left."
            " | Clean lines on this {color} {noun}."
        ),
        options(
            "A dream car for weekend drives. | Restoration notes in the comments."
            " | Spotted on a summer road trip."
        ),
        options(
            "Classic cars | Road trip | Dream garage | Car spotting | Vintage wheels | Van life"
        ),
        ("architecture", "mountains", "geometry"),
    ),
    Topic(
        "cats",
        {
            "sitting": variant("cat | tabby cat | kitten"),
            "portrait": variant("house cat | kitty"),
            "sleeping": variant("sleeping cat | napping kitten"),
        },
        options(
            "{Color} {noun} | {Color} {noun} by the window | Curious {color} {noun}"
            " | {Color} {noun} on a cushion | Lazy Sunday with {a_color} {noun}"
            " | Our {color} {noun} says hello"
        ),
        options(
            "{A_color} {noun} who owns the living room."
            " | Meet our {color} {noun}, professional napper. | Every home needs {a_color} {noun}."
        ),
        options("Cuteness overload. | Adopt, don't shop. | Follow for daily cat content."),
        options(
            "Cats of the internet | Cat lovers | Kitten cuddles | Feline friends | Purrfect pets"
            " | Pet portraits"
        ),
        ("fashion", "food", "flowers"),
    ),
    Topic(
        "fashion",
        {
            "dress": variant("summer dress | midi dress | wrap dress"),
            "handbag": variant("handbag | leather tote | clutch bag"),
            "hat": variant("sun hat | fedora | wide-brim hat"),
            "tshirt": variant("t-shirt | basic tee"),
        },
        options(
            "{Color} {noun} | {Color} {noun} outfit idea | Everyday {color} {noun}"
            " | {Color} {noun} for summer | How to style {a_color} {noun}"
            " | The perfect {color} {noun}"
        ),
        options(
            "{A_color} {noun} that goes with everything. | Wardrobe staple: the {color} {noun}."
            " | Styling {a_color} {noun} three ways."
        ),
        options("Shop the look. | A capsule wardrobe essential. | Dress it up or down."),
        options(
            "Summer outfits | Capsule wardrobe | Street style | Style inspiration | Accessories"
            " | What to wear"
        ),
        ("flowers", "cats", "geometry"),
    ),
    Topic(
        "space",
        {
            "planet": variant("ringed planet | gas giant", "orange | purple | blue | red | teal"),
            "rocket": variant("rocket | space rocket", "red | blue | orange | teal"),
            "moon": variant("crescent moon | moon", "yellow | white | cream"),
        },
        options(
            "{Color} {noun} among the stars | {Color} {noun} in deep space"
            " | Retro {color} {noun} poster | {Color} {noun} illustration"
            " | Night sky with {a_color} {noun}"
        ),
        options(
            "{A_color} {noun} against a field of stars."
            " | Retro space art: {a_color} {noun} in the dark. | Look up tonight: {a_color} {noun}."
        ),
        options(
            "Great as a kids' room poster. | Clear skies are forecast this weekend."
            " | For every future astronaut."
        ),
        options(
            "Space art | Astronomy | Night sky | To the stars | Cosmic wallpapers"
            " | Sci-fi inspiration"
        ),
        ("geometry", "mountains", "ocean"),
    ),
    Topic(
        "forest",
        {
            "pine": variant(
                "pine forest | fir tree | spruce grove", "green | dark green | olive | teal"
            ),
            "autumn": variant("autumn tree | maple grove | oak tree", "orange | red | yellow"),
            "mushroom": variant("toadstool | wild mushroom", "red | brown | orange"),
        },
        options(
            "{Color} {noun} | {Color} {noun} after the rain | Walking past {a_color} {noun}"
            " | Quiet {color} {noun} | {Color} {noun} at golden hour"
        ),
        options(
            "{A_color} {noun} deep in the woods. | Forest bathing next to {a_color} {noun}."
            " | Quiet trail, {color} {noun} and birdsong."
        ),
        options(
            "Bring boots: the trail gets muddy. | The best time to visit is early autumn."
            " | Leave no trace."
        ),
        options(
            "Forest walks | Into the woods | Autumn colors | Nature therapy | Woodland"
            " | Camping trips"
        ),
        ("mountains", "flowers", "ocean"),
    ),
    Topic(
        "desserts",
        {
            "cupcake": variant("cupcake | frosted cupcake"),
            "icecream": variant("ice cream cone | gelato cone"),
            "donut": variant("donut | glazed donut"),
            "cake": variant("cake slice | layer cake"),
        },
        options(
            "{Flavor} {noun} | Homemade {flavor} {noun} | {Flavor} {noun} recipe"
            " | Easy {flavor} {noun} | The prettiest {flavor} {noun} | Weekend {flavor} {noun}"
        ),
        options(
            "{A_flavor} {noun} with {color} frosting. | Sweet, {color} and easy: {a_flavor} {noun}."
            " | Bake sale favorite: {a_flavor} {noun}."
        ),
        options("Perfect for birthdays. | Only six ingredients. | Make a double batch."),
        options(
            "Sweet treats | Baking ideas | Dessert table | Cake decorating | Sugar rush | Bake sale"
        ),
        ("food", "flowers", "fashion"),
    ),
    Topic(
        "geometry",
        {
            "circles": variant("concentric circles | circle study"),
            "triangles": variant("triangle composition | triangle print"),
            "grid": variant("square grid | checker pattern"),
            "bauhaus": variant("Bauhaus print | abstract poster"),
        },
        options(
            "{Color} {noun} | Minimal {color} {noun} | {Color} {noun} wall art"
            " | Mid-century {color} {noun} | Bold {color} {noun}"
        ),
        options(
            "Bold shapes and flat color: {a_color} {noun}."
            " | {A_color} {noun} in the spirit of mid-century design."
            " | Printable {color} {noun} for a gallery wall."
        ),
        options(
            "Free printable in the link. | Looks great in a simple black frame."
            " | Made with three shapes and a ruler."
        ),
        options(
            "Geometric art | Bauhaus | Pattern design | Minimal posters | Abstract shapes"
            " | Graphic design"
        ),
        ("architecture", "space", "fashion"),
    ),
)
TOPIC_BY_NAME = {t.name: t for t in TOPICS}

# Colours of a topic whose variants do not name their own (the subject's colour).
TOPIC_COLORS: dict[str, tuple[str, ...]] = {
    "ocean": ("blue", "teal", "turquoise", "navy"),
    "mountains": ("grey", "purple", "blue", "brown", "lavender", "navy"),
    "architecture": ("white", "cream", "orange", "red", "yellow", "pink", "blue", "mint", "grey"),
    "cars": ("red", "blue", "yellow", "green", "black", "white", "grey", "orange", "mint"),
    "cats": ("orange", "grey", "black", "white", "brown", "cream"),
    "fashion": ("red", "black", "white", "pink", "navy", "beige", "green", "yellow", "purple"),
    "desserts": ("pink", "brown", "cream", "mint", "yellow", "purple", "red"),
    "geometry": ("red", "yellow", "blue", "black", "teal", "orange", "pink"),
}
FLAVORS = {
    "pink": "strawberry",
    "brown": "chocolate",
    "cream": "vanilla",
    "mint": "mint",
    "yellow": "lemon",
    "purple": "blueberry",
    "red": "raspberry",
}
NOTES = {
    "sun": ("The sun is out.", "Bright sunshine all day.", "Golden light from a low sun."),
    "balloon": ("A hot-air balloon drifts overhead.", "Look for the hot-air balloon."),
    "lamp": ("An old street lamp stands nearby.", "Love the street lamp in this one."),
}
PROPER_PHRASES = ("Bauhaus", "Italian")


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def fill(template: str, noun: str, color: str) -> str:
    """Fill a title or sentence template with the pin's noun and subject colour."""
    flavor = FLAVORS.get(color, color)
    values = {
        "noun": noun,
        "color": color,
        "flavor": flavor,
        "a_noun": f"{article(noun)} {noun}",
        "a_color": f"{article(color)} {color}",
        "a_flavor": f"{article(flavor)} {flavor}",
    }
    for key in list(values):
        values[key.capitalize()] = values[key][:1].upper() + values[key][1:]
    return template.format(**values)


# ---------------------------------------------------------------------------------------------
# Random, colour and geometry helpers
# ---------------------------------------------------------------------------------------------


def uni(rng: Rng, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def randint(rng: Rng, lo: int, hi: int) -> int:
    """An integer in [lo, hi], both ends included."""
    return int(rng.integers(lo, hi + 1))


def chance(rng: Rng, p: float) -> bool:
    return bool(rng.random() < p)


def pick(rng: Rng, items: Sequence[T]) -> T:
    return items[int(rng.integers(len(items)))]


def scatter(rng: Rng, n: int, radius: float, inner: float = 0.0) -> list[Point]:
    """``n`` random points around the origin, at distances between ``inner`` and ``radius``."""
    points = []
    for _ in range(n):
        a, d = uni(rng, 0, 2 * math.pi), uni(rng, inner, radius)
        points.append((d * math.cos(a), d * math.sin(a)))
    return points


def mix(a: RGB, b: RGB, t: float) -> RGB:
    r, g, bl = (round(p + (q - p) * t) for p, q in zip(a, b, strict=True))
    return (r, g, bl)


def distance(a: RGB, b: RGB) -> int:
    """Manhattan distance between two colours."""
    return sum(abs(p - q) for p, q in zip(a, b, strict=True))


def darker(c: RGB, t: float = 0.25) -> RGB:
    return mix(c, (0, 0, 0), t)


def lighter(c: RGB, t: float = 0.3) -> RGB:
    return mix(c, (255, 255, 255), t)


def jitter(rng: Rng, c: RGB, amount: int = 12) -> RGB:
    r, g, b = (int(np.clip(v + rng.integers(-amount, amount + 1), 0, 255)) for v in c)
    return (r, g, b)


def ellipse_points(
    cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 18
) -> list[Point]:
    ca, sa = math.cos(angle), math.sin(angle)
    ts = [2 * math.pi * k / n for k in range(n)]
    xys = [(rx * math.cos(t), ry * math.sin(t)) for t in ts]
    return [(cx + x * ca - y * sa, cy + x * sa + y * ca) for x, y in xys]


def circle_band(cx: float, cy: float, r: float, y0: float, y1: float, n: int = 8) -> list[Point]:
    """The part of a circle between two horizontal lines, as a polygon."""
    y0, y1 = max(y0, cy - r), min(y1, cy + r)
    ys = [y0 + (y1 - y0) * k / n for k in range(n + 1)]
    half = [math.sqrt(max(r * r - (y - cy) ** 2, 0.0)) for y in ys]
    left = [(cx - h, y) for h, y in zip(half, ys, strict=True)]
    right = [(cx + h, y) for h, y in zip(half, ys, strict=True)]
    return left + right[::-1]


def wave(y: float, amp: float, period: float, phase: float) -> list[Point]:
    """A horizontal sine line across the whole image."""
    return [(x, y + amp * math.sin(2 * math.pi * x / period + phase)) for x in range(-2, 100, 2)]


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------


class Canvas:
    """A drawing surface in logical IMAGE_SIZE coordinates, rendered SUPERSAMPLE times larger."""

    def __init__(self) -> None:
        side = IMAGE_SIZE * SUPERSAMPLE
        self.image = Image.new("RGB", (side, side), (255, 255, 255))
        self._draw = ImageDraw.Draw(self.image)

    @staticmethod
    def _xy(points: Iterable[Point]) -> list[Point]:
        return [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in points]

    @staticmethod
    def _box(cx: float, cy: float, rx: float, ry: float) -> tuple[float, float, float, float]:
        k, rx, ry = SUPERSAMPLE, abs(rx), abs(ry)
        return ((cx - rx) * k, (cy - ry) * k, (cx + rx) * k, (cy + ry) * k)

    @staticmethod
    def _width(width: float) -> int:
        return max(1, round(width * SUPERSAMPLE))

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: RGB) -> None:
        self.polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1)), fill)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: RGB) -> None:
        self._draw.ellipse(self._box(cx, cy, rx, ry), fill=fill)

    def circle(self, cx: float, cy: float, r: float, fill: RGB) -> None:
        self.ellipse(cx, cy, r, r, fill)

    def ring(self, cx: float, cy: float, r: float, color: RGB, width: float) -> None:
        self._draw.ellipse(self._box(cx, cy, r, r), outline=color, width=self._width(width))

    def polygon(self, points: Iterable[Point], fill: RGB) -> None:
        self._draw.polygon(self._xy(points), fill=fill)

    def line(self, points: Iterable[Point], fill: RGB, width: float = 1.0) -> None:
        self._draw.line(self._xy(points), fill=fill, width=self._width(width), joint="curve")

    def arc(
        self, cx: float, cy: float, rx: float, ry: float, span: Point, fill: RGB, width: float
    ) -> None:
        """An elliptic arc from ``span[0]`` to ``span[1]`` degrees (clockwise from 3 o'clock)."""
        box = self._box(cx, cy, rx, ry)
        self._draw.arc(box, span[0], span[1], fill=fill, width=self._width(width))

    def frame(
        self, x: float, y: float, scale: float = 1.0, angle: float = 0.0, flip: bool = False
    ) -> Frame:
        return Frame(self, x, y, scale, angle, flip)

    def finish(self) -> Image.Image:
        return self.image.reduce(SUPERSAMPLE)


@dataclass(frozen=True)
class Frame:
    """Local coordinates on a canvas: origin at (x, y), unit of ``scale`` pixels, rotated by
    ``angle`` radians and mirrored left-right if ``flip``. A shape is written once, in its own
    units, and drawn at any position, size and tilt. Widths and radii are in local units too."""

    canvas: Canvas
    x: float
    y: float
    scale: float = 1.0
    angle: float = 0.0
    flip: bool = False

    def at(self, u: float, v: float) -> Point:
        u = -u if self.flip else u
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        return (self.x + self.scale * (u * ca - v * sa), self.y + self.scale * (u * sa + v * ca))

    def points(self, points: Iterable[Point]) -> list[Point]:
        return [self.at(u, v) for u, v in points]

    def poly(self, points: Iterable[Point], fill: RGB) -> None:
        self.canvas.polygon(self.points(points), fill)

    def rect(self, u0: float, v0: float, u1: float, v1: float, fill: RGB) -> None:
        self.poly(((u0, v0), (u1, v0), (u1, v1), (u0, v1)), fill)

    def line(self, points: Iterable[Point], fill: RGB, width: float) -> None:
        self.canvas.line(self.points(points), fill, width * self.scale)

    def circle(self, u: float, v: float, r: float, fill: RGB) -> None:
        self.canvas.circle(*self.at(u, v), r * self.scale, fill)

    def ring(self, u: float, v: float, r: float, color: RGB, width: float) -> None:
        self.canvas.ring(*self.at(u, v), r * self.scale, color, width * self.scale)

    def ellipse(self, u: float, v: float, rx: float, ry: float, fill: RGB, tilt: float = 0) -> None:
        if tilt == 0 and self.angle == 0:
            self.canvas.ellipse(*self.at(u, v), rx * self.scale, ry * self.scale, fill)
        else:
            self.poly(ellipse_points(u, v, rx, ry, tilt), fill)

    def arc(
        self, u: float, v: float, rx: float, ry: float, span: Point, fill: RGB, width: float
    ) -> None:
        """An arc of an upright ellipse (the frame's rotation is ignored)."""
        s = self.scale
        self.canvas.arc(*self.at(u, v), rx * s, ry * s, span, fill, width * s)


@dataclass
class Scene:
    """What a topic's drawer gets: a canvas, its random stream, the variant and subject colour."""

    canvas: Canvas
    rng: Rng
    variant: str
    color: RGB
    notes: list[str] = field(default_factory=list)  # keys of NOTES for shared objects drawn


SKIES: tuple[RGB, ...] = ((160, 205, 240), (200, 228, 245), (250, 205, 165), (205, 190, 230))
PASTELS: tuple[RGB, ...] = (
    (250, 243, 225),
    (225, 242, 228),
    (250, 226, 232),
    (225, 235, 248),
    (250, 246, 210),
    (235, 225, 245),
)
GRASS: tuple[RGB, ...] = ((110, 175, 85), (135, 185, 90), (90, 150, 80), (160, 190, 100))
WHITE: RGB = (250, 250, 248)
TRUNK: RGB = (110, 75, 45)
GLASS: RGB = (172, 208, 232)

# --- objects shared by several topics --------------------------------------------------------


def draw_sun(c: Canvas, rng: Rng, x: float, y: float, r: float) -> None:
    color = jitter(rng, pick(rng, ((250, 205, 60), (248, 175, 50), (252, 225, 90))), 8)
    f = c.frame(x, y, r)
    for k in range(8):
        ca, sa = math.cos(k * math.pi / 4 + 0.2), math.sin(k * math.pi / 4 + 0.2)
        f.line(((1.35 * ca, 1.35 * sa), (1.8 * ca, 1.8 * sa)), color, 0.15)
    f.circle(0, 0, 1, color)


def draw_cloud(c: Canvas, x: float, y: float, w: float) -> None:
    f = c.frame(x, y, w)
    f.ellipse(0, 0, 0.5, 0.2, WHITE)
    f.ellipse(-0.18, -0.1, 0.24, 0.2, WHITE)
    f.ellipse(0.12, -0.14, 0.22, 0.22, WHITE)


def draw_balloon(c: Canvas, rng: Rng, x: float, y: float, r: float) -> None:
    body = COLORS[pick(rng, ("red", "yellow", "blue", "orange", "purple"))]
    stripe = COLORS[pick(rng, ("white", "yellow", "red"))]
    f = c.frame(x, y, r)
    for side in (-1, 1):
        f.line(((0.6 * side, 0.8), (0.25 * side, 1.75)), (90, 70, 50), 0.08)
    f.poly(((-0.85, 0.4), (0.85, 0.4), (0, 1.35)), body)
    f.circle(0, 0, 1, body)
    f.ellipse(0, 0.05, 0.35, 0.97, stripe)
    f.rect(-0.3, 1.7, 0.3, 2.15, (150, 100, 55))


def draw_lamp(c: Canvas, x: float, ground: float, h: float) -> None:
    """A street lamp ``h`` pixels tall standing on ``ground``."""
    post, f = (55, 60, 65), c.frame(x, ground, h)
    f.rect(-0.05, -1, 0.05, 0, post)
    f.rect(-0.12, -0.08, 0.12, 0, post)
    f.poly(((-0.16, -1), (0.16, -1), (0.1, -1.22), (-0.1, -1.22)), (250, 220, 110))
    f.poly(((-0.2, -1.2), (0.2, -1.2), (0, -1.35)), post)


def draw_pine(c: Canvas, x: float, base: float, h: float, color: RGB) -> None:
    f = c.frame(x, base, h)
    f.rect(-0.05, -0.22, 0.05, 0, TRUNK)
    for k, (lo, hi, w) in enumerate(((0.12, 0.55, 0.36), (0.35, 0.8, 0.28), (0.58, 1.0, 0.2))):
        f.poly(((-w, -lo), (w, -lo), (0, -hi)), lighter(color, 0.06 * k))


def draw_round_tree(c: Canvas, rng: Rng, x: float, base: float, h: float, color: RGB) -> None:
    f = c.frame(x, base, h)
    f.rect(-0.06, -0.45, 0.06, 0, TRUNK)
    f.circle(0, -0.68, 0.3, color)
    for u, v in scatter(rng, 3, 0.2):
        f.circle(u, v - 0.72, 0.2, jitter(rng, color, 18))


def draw_birds(c: Canvas, rng: Rng, top: float, bottom: float) -> None:
    for _ in range(randint(rng, 0, 3)):
        f = c.frame(uni(rng, 8, 88), uni(rng, top, max(top + 1, bottom)), uni(rng, 2.5, 4.5))
        f.line(((-1, -0.6), (0, 0), (1, -0.6)), (60, 60, 70), 0.22)


def draw_sky(sc: Scene, horizon: float, sun: float = 0.5, balloon: float = 0.0) -> RGB:
    """Sky above ``horizon`` with maybe a sun, clouds and a hot-air balloon; returns its colour."""
    c, rng = sc.canvas, sc.rng
    sky = jitter(rng, pick(rng, SKIES), 8)
    c.rect(0, 0, L, horizon + 1, sky)
    if chance(rng, sun):
        r = uni(rng, 4.5, 10)
        draw_sun(c, rng, uni(rng, 10, 86), uni(rng, 9, max(10, horizon - r - 6)), r)
        sc.notes.append("sun")
    for _ in range(randint(rng, 0, 2)):
        draw_cloud(c, uni(rng, 5, 91), uni(rng, 6, max(8, horizon - 10)), uni(rng, 14, 26))
    if chance(rng, balloon):
        r = uni(rng, 5, 9)
        draw_balloon(c, rng, uni(rng, 10, 86), uni(rng, 8, max(10, horizon - 2.5 * r)), r)
        sc.notes.append("balloon")
    return sky


# --- flowers ---------------------------------------------------------------------------------

TULIP: tuple[Point, ...] = ((-0.55, -0.25), (-0.35, -0.8), (-0.14, -0.4), (0, -0.9), (0.14, -0.4))
TULIP += ((0.35, -0.8), (0.55, -0.25), (0.45, 0.35), (0, 0.55), (-0.45, 0.35))


def draw_flower(
    c: Canvas, rng: Rng, kind: str, x: float, y: float, size: float, color: RGB, stem: bool
) -> None:
    """A flower head of radius ``size`` centred on (x, y), with a stem down to the bottom edge."""
    f = c.frame(x, y, size)
    if stem:
        green = jitter(rng, (70, 140, 60))
        depth, end = (L + 2 - y) / size, uni(rng, -0.4, 0.4)
        mid = (end / 2 + uni(rng, -0.2, 0.2), depth / 2)
        f.line(((0, 0), mid, (end, depth)), green, 0.13)
        side = pick(rng, (-1.0, 1.0))
        f.ellipse(mid[0] + 0.4 * side, mid[1] + 0.25, 0.47, 0.17, green, 0.5 * side)
    if kind == "daisy":
        n, phase = randint(rng, 11, 15), uni(rng, 0, 1)
        for a in (2 * math.pi * k / n + phase for k in range(n)):
            f.ellipse(0.62 * math.cos(a), 0.62 * math.sin(a), 0.5, 0.16, color, a)
        yellow = color[0] > 200 and color[2] < 100
        f.circle(0, 0, 0.3, (140, 90, 40) if yellow else (242, 190, 40))
    elif kind == "rose":
        n, phase = randint(rng, 5, 6), uni(rng, 0, 1)
        for a in (2 * math.pi * k / n + phase for k in range(n)):
            f.circle(0.45 * math.cos(a), 0.45 * math.sin(a), 0.5, color)
        f.circle(0, 0, 0.5, lighter(color, 0.18))
        f.circle(0, 0, 0.22, darker(color, 0.4))
    else:  # tulip
        f.poly(TULIP, color)
        f.poly(((-0.22, 0), (0, -0.9), (0.22, 0), (0, 0.5)), darker(color, 0.15))


def draw_flowers(sc: Scene) -> None:
    c, rng = sc.canvas, sc.rng
    c.rect(0, 0, L, L, jitter(rng, pick(rng, PASTELS), 8))
    if chance(rng, 0.6):
        c.rect(0, L - uni(rng, 8, 20), L, L, jitter(rng, pick(rng, GRASS), 8))
    for _ in range(randint(rng, 0, 4)):  # small flowers scattered around
        other = COLORS[pick(rng, ("red", "pink", "yellow", "white", "lavender", "orange"))]
        kind, size = pick(rng, ("daisy", "rose", "tulip")), uni(rng, 4.5, 7.5)
        draw_flower(c, rng, kind, uni(rng, 6, 90), uni(rng, 8, 88), size, jitter(rng, other), False)
    size = 15 * uni(rng, 0.75, 1.35)
    draw_flower(c, rng, sc.variant, uni(rng, 22, 74), uni(rng, 20, 56), size, sc.color, True)


# --- ocean -----------------------------------------------------------------------------------


def draw_ocean(sc: Scene) -> None:
    c, rng, sea = sc.canvas, sc.rng, sc.color
    horizon = uni(rng, 28, 48)
    draw_sky(sc, horizon, sun=0.55, balloon=0.1)
    draw_birds(c, rng, 8, horizon - 8)
    c.rect(0, horizon, L, L, sea)
    y = horizon + uni(rng, 3, 6)
    while y < L:
        c.line(
            wave(y, uni(rng, 0.8, 1.8), uni(rng, 10, 18), uni(rng, 0, 6.3)), lighter(sea, 0.35), 0.9
        )
        y += uni(rng, 5, 9)
    x, y = uni(rng, 20, 76), uni(rng, horizon + 10, L - 8)
    f = c.frame(x, y, uni(rng, 0.6, 1.25))  # origin on the waterline
    if sc.variant == "sailboat":
        hull = COLORS[pick(rng, ("white", "red", "brown", "navy", "yellow"))]
        f.poly(((-15, -4), (15, -4), (10, 2), (-10, 2)), hull)
        f.line(((0, -4), (0, -34)), (70, 60, 55), 1.2)
        f.poly(((1, -33), (1, -6), (14, -6)), WHITE)
        f.poly(((-1, -29), (-1, -6), (-11, -6)), COLORS[pick(rng, ("white", "red", "orange"))])
    elif sc.variant == "lighthouse":
        f.ellipse(0, 0, 16, 5, jitter(rng, (120, 110, 100)))
        for k in range(5):  # striped tower, narrowing upwards
            v0, v1, w0, w1 = -2 - 7.2 * k, -9.2 - 7.2 * k, 6.5 - 0.46 * k, 6.04 - 0.46 * k
            band = (235, 235, 230) if k % 2 == 0 else (200, 45, 45)
            f.poly(((-w0, v0), (w0, v0), (w1, v1), (-w1, v1)), band)
        f.rect(-3.5, -44, 3.5, -38, (252, 225, 110))
        f.poly(((-5.5, -44), (5.5, -44), (0, -49)), (60, 60, 70))
    else:  # surf: one big wave with a curl
        left, right, bottom = (-2 - f.x) / f.scale, (L + 2 - f.x) / f.scale, (L + 2 - f.y) / f.scale
        crest = [(u, -24 * math.exp(-((u / 13) ** 2))) for u in np.linspace(left, right, 40)]
        f.poly([*crest, (right, bottom), (left, bottom)], darker(sea, 0.2))
        f.line(crest, WHITE, 2.2)
        f.circle(5, -19, 5, lighter(sea, 0.2))
        f.ring(5, -19, 5, WHITE, 1.5)


# --- mountains -------------------------------------------------------------------------------


def draw_mountains(sc: Scene) -> None:
    c, rng, rock = sc.canvas, sc.rng, sc.color
    horizon = uni(rng, 58, 74)
    sky = draw_sky(sc, horizon, sun=0.6)
    for _ in range(randint(rng, 2, 3)):  # a hazy range behind
        x, top, w = uni(rng, 0, L), uni(rng, horizon - 42, horizon - 20), uni(rng, 22, 40)
        c.polygon(((x - w, horizon + 1), (x, top), (x + w, horizon + 1)), mix(rock, sky, 0.5))
    s = uni(rng, 0.8, 1.3)
    x, w = uni(rng, 22, 74), 30 * s
    h = horizon - max(6.0, horizon - 42 * s)
    f = c.frame(x, horizon)  # origin at the foot of the main peak
    if sc.variant == "volcano":
        f.poly(((-w, 1), (-0.17 * w, -h), (0.17 * w, -h), (w, 1)), rock)
        f.poly(((-0.17 * w, -h), (0.17 * w, -h), (2, 9 - h), (-1, 6 - h)), (230, 90, 40))
        for k in range(3):  # smoke
            f.circle(uni(rng, -4, 4), -h - (5 + 6 * k) * s, (3 + 1.5 * k) * s, (175, 175, 180))
    else:
        f.poly(((-w, 1), (0, -h), (w, 1)), rock)
        f.poly(((0, -h), (w, 1), (0.25 * w, 1)), darker(rock, 0.18))
        snow = ((0.3, 0.3), (0.12, 0.22), (-0.02, 0.32), (-0.15, 0.22), (-0.3, 0.3))
        f.poly([(0, -h)] + [(a * w, b * h - h) for a, b in snow], WHITE)
    c.rect(0, horizon, L, L, jitter(rng, pick(rng, (*GRASS, (150, 125, 90))), 8))
    if sc.variant == "lake":  # a lake in front, reflecting the peak
        depth = L - horizon
        lake = jitter(rng, (110, 170, 215), 10)
        f.ellipse(0, 0.5 * depth, 34 * s, 0.38 * depth, lake)
        f.poly(
            ((-0.5 * w, 0.12 * depth + 1), (0, 0.8 * depth), (0.5 * w, 0.12 * depth + 1)),
            mix(rock, lake, 0.55),
        )
    for _ in range(randint(rng, 0, 5)):
        pine = jitter(rng, (40, 100, 60))
        draw_pine(c, uni(rng, 2, 94), uni(rng, horizon + 4, L), uni(rng, 8, 16), pine)
    draw_birds(c, rng, 6, horizon - 20)
    if chance(rng, 0.15):
        draw_balloon(c, rng, uni(rng, 10, 86), uni(rng, 8, 24), uni(rng, 5, 8))
        sc.notes.append("balloon")


# --- food ------------------------------------------------------------------------------------


def draw_table(c: Canvas, rng: Rng) -> None:
    kind = randint(rng, 0, 3)
    if kind == 0:  # wooden planks
        wood = jitter(rng, (170, 118, 75), 10)
        c.rect(0, 0, L, L, wood)
        y = uni(rng, 4, 12)
        while y < L:
            c.line(((0, y), (L, y)), darker(wood, 0.2), 0.8)
            y += uni(rng, 11, 16)
    elif kind == 1:  # checkered tablecloth
        c.rect(0, 0, L, L, (248, 246, 240))
        tint, cell = lighter(COLORS[pick(rng, ("red", "blue", "green"))], 0.25), pick(rng, (12, 16))
        for i in range(0, IMAGE_SIZE, cell):
            for j in range(i % (2 * cell), IMAGE_SIZE, 2 * cell):
                c.rect(i, j, i + cell, j + cell, tint)
    else:  # slate or linen
        c.rect(0, 0, L, L, jitter(rng, pick(rng, ((75, 80, 86), (232, 222, 200))), 6))


def draw_food(sc: Scene) -> None:
    c, rng, color = sc.canvas, sc.rng, sc.color
    draw_table(c, rng)
    s = uni(rng, 0.8, 1.15)
    r = 26 * s
    x, y = uni(rng, r + 2, L - r - 2), uni(rng, r + 2, L - r - 2)
    f = c.frame(x, y, r)  # unit: the plate's radius
    if sc.variant == "soup":
        f.circle(0, 0, 1, jitter(rng, pick(rng, (WHITE, (70, 110, 170), (190, 100, 70))), 8))
        f.circle(0, 0, 0.8, color)
        f.arc(0, 0, 0.35, 0.35, (30, 300), (250, 245, 235), 0.055)
        for u, v in scatter(rng, 6, 0.6):
            f.circle(u, v, 0.05, (60, 130, 60))
    else:
        f.circle(0, 0, 1, (222, 224, 226))
        f.circle(0, 0, 0.84, WHITE)
    if sc.variant == "pizza":
        f.circle(0, 0, 0.76, (218, 160, 90))
        f.circle(0, 0, 0.66, color)
        for u, v in scatter(rng, 6, 0.45):
            f.circle(u, v, 0.16, (250, 222, 130))
        for u, v in scatter(rng, 6, 0.5, 0.1):
            f.circle(u, v, 0.09, (150, 35, 35))
        for a in (0.3, 1.35, 2.4):  # cuts
            ca, sa = 0.76 * math.cos(a), 0.76 * math.sin(a)
            f.line(((-ca, -sa), (ca, sa)), (200, 140, 80), 0.03)
    elif sc.variant == "salad":
        for u, v in scatter(rng, 14, 0.5):
            f.ellipse(u, v, 0.22, 0.11, jitter(rng, color, 25), uni(rng, 0, 3.1))
        for u, v in scatter(rng, 4, 0.5):
            f.circle(u, v, 0.1, (220, 50, 45))
    elif sc.variant == "pasta":
        for u, v in scatter(rng, 22, 0.35):
            rr, start = uni(rng, 0.15, 0.3), uni(rng, 0, 360)
            f.arc(u, v, rr, rr, (start, start + 200), color, 0.045)
        f.circle(0, 0, 0.22, (200, 55, 40))
        f.ellipse(0.1, -0.12, 0.12, 0.06, (60, 140, 60), 0.6)
    elif sc.variant == "eggs":
        for du in (-0.28, 0.3):
            dv = uni(rng, -0.15, 0.15)
            for u, v in scatter(rng, 3, 0.08):
                f.circle(du + u, dv + v, 0.24, (252, 252, 250))
            f.circle(du, dv, 0.11, color)
        for dv in (0.38, 0.5):  # bacon
            f.line(
                [(t - 0.4, dv + 0.03 * math.sin(15 * t)) for t in np.linspace(0, 0.8, 9)],
                (175, 75, 60),
                0.08,
            )
    if chance(rng, 0.7):  # a fork beside the plate
        steel = (190, 192, 198)
        fork = c.frame(x + (r + 7 * s) * (-1 if x > L / 2 else 1), y, s)
        fork.line(((0, -14), (0, 18)), steel, 1.6)
        for u in (-2.2, 0.0, 2.2):
            fork.line(((u, -22), (u, -13)), steel, 0.9)
        fork.rect(-2.6, -14.5, 2.6, -12.5, steel)
    gx, gy = uni(rng, 8, 88), uni(rng, 8, 88)
    if chance(rng, 0.3) and math.hypot(gx - x, gy - y) > r + 8:  # a glass of water
        c.circle(gx, gy, 7, (210, 230, 240))
        c.ring(gx, gy, 7, (175, 200, 215), 1)


# --- architecture ----------------------------------------------------------------------------


def draw_windows(
    c: Canvas, box: tuple[float, float, float, float], grid: tuple[int, int], frame: RGB
) -> None:
    """A ``grid`` of (columns, rows) framed windows filling ``box`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    cw, rh = (x1 - x0) / grid[0], (y1 - y0) / grid[1]
    for i in range(grid[0]):
        for j in range(grid[1]):
            f = c.frame(x0 + i * cw, y0 + j * rh)
            f.rect(0.2 * cw, 0.15 * rh, 0.8 * cw, 0.85 * rh, frame)
            f.rect(0.28 * cw, 0.22 * rh, 0.72 * cw, 0.78 * rh, GLASS)


def draw_architecture(sc: Scene) -> None:
    c, rng, wall = sc.canvas, sc.rng, sc.color
    ground = uni(rng, 80, 90)
    draw_sky(sc, ground, sun=0.5, balloon=0.08)
    for _ in range(randint(rng, 0, 2)):  # neighbours at the edges
        w, h = uni(rng, 14, 24), uni(rng, 30, 60)
        x0 = pick(rng, (-4.0, L - w + 4))
        other = jitter(rng, pick(rng, ((200, 190, 175), (180, 120, 95), (215, 205, 160))), 12)
        c.rect(x0, ground - h, x0 + w, ground, other)
        draw_windows(
            c,
            (x0, ground - h + 4, x0 + w, ground - 6),
            (2, max(1, int(h / 14))),
            darker(other, 0.3),
        )
    c.rect(0, ground, L, L, jitter(rng, (170, 170, 172), 6))
    s, trim = uni(rng, 0.85, 1.15), darker(wall, 0.35)
    if sc.variant == "tower":
        w, h = uni(rng, 24, 34) * s, min(uni(rng, 58, 74) * s, ground - 6)
        x0 = uni(rng, 6, L - w - 6)
        top = ground - h
        c.rect(x0, top, x0 + w, ground, wall)
        c.rect(x0 - 1, top - 3, x0 + w + 1, top, trim)
        c.line(((x0 + w * 0.7, top - 3), (x0 + w * 0.7, top - 12)), (70, 70, 75), 0.8)
        grid = (randint(rng, 3, 4), randint(rng, 6, 8))
        draw_windows(c, (x0, top + 3, x0 + w, ground - 3), grid, trim)
    elif sc.variant == "shopfront":
        w, h = uni(rng, 44, 62) * s, uni(rng, 40, 52) * s
        x0 = uni(rng, 3, max(4, L - w - 3))
        top, awning = ground - h, ground - 0.5 * h
        c.rect(x0, top, x0 + w, ground, wall)
        draw_windows(c, (x0 + 2, top + 3, x0 + w - 2, top + 0.42 * h), (3, 1), trim)
        c.rect(x0 + 3, awning + 4, x0 + 0.65 * w, ground - 2, GLASS)
        c.rect(x0 + 0.72 * w, awning + 4, x0 + w - 4, ground, darker(wall, 0.45))
        stripe = jitter(rng, COLORS[pick(rng, ("red", "green", "navy", "teal"))], 8)
        for k in range(7):
            xa, xb = x0 + w * k / 7, x0 + w * (k + 1) / 7
            band = stripe if k % 2 == 0 else (245, 245, 240)
            c.polygon(
                (
                    (xa, awning - 4),
                    (xb, awning - 4),
                    (xb + 1.5, awning + 4),
                    (xa + 1.5, awning + 4),
                ),
                band,
            )
    else:  # townhouse
        w, h = uni(rng, 34, 48) * s, uni(rng, 38, 50) * s
        x0 = uni(rng, 6, L - w - 6)
        top = ground - h
        roof = jitter(rng, pick(rng, ((170, 72, 50), (80, 86, 96), (120, 60, 45))), 8)
        c.polygon(((x0 - 3, top + 1), (x0 + w / 2, top - 16 * s), (x0 + w + 3, top + 1)), roof)
        c.rect(x0, top, x0 + w, ground, wall)
        draw_windows(
            c, (x0 + 1, top + 3, x0 + w - 1, ground - 15 * s), (3, randint(rng, 1, 2)), trim
        )
        c.rect(
            x0 + w / 2 - 4.5 * s, ground - 13 * s, x0 + w / 2 + 4.5 * s, ground, darker(wall, 0.45)
        )
    if chance(rng, 0.35):
        draw_lamp(c, uni(rng, 4, 92), ground + 3, uni(rng, 18, 28))
        sc.notes.append("lamp")


# --- cars ------------------------------------------------------------------------------------

# Outlines in units of the car's length: u from the back (0) to the front (1), v upwards.
CAR_BODY: dict[str, tuple[Point, ...]] = {
    "coupe": ((0, 0), (0, 0.15), (0.06, 0.2), (0.3, 0.22), (0.94, 0.19), (1, 0.11), (1, 0)),
    "hatchback": ((0, 0), (0, 0.22), (0.88, 0.23), (1, 0.15), (1, 0)),
    "pickup": (
        (0, 0),
        (0, 0.22),
        (0.52, 0.22),
        (0.54, 0.42),
        (0.76, 0.42),
        (0.83, 0.25),
        (1, 0.22),
        (1, 0),
    ),
    "van": ((0, 0), (0, 0.5), (0.04, 0.55), (0.78, 0.55), (0.93, 0.33), (1, 0.26), (1, 0)),
}
CAR_CABIN: dict[str, tuple[Point, ...]] = {
    "coupe": ((0.28, 0.21), (0.42, 0.37), (0.66, 0.37), (0.82, 0.2)),
    "hatchback": ((0.02, 0.21), (0.07, 0.43), (0.58, 0.43), (0.78, 0.22)),
}
CAR_WINDOWS: dict[str, tuple[tuple[Point, ...], ...]] = {
    "coupe": (
        ((0.33, 0.22), (0.44, 0.34), (0.53, 0.34), (0.53, 0.22)),
        ((0.56, 0.22), (0.56, 0.34), (0.65, 0.34), (0.77, 0.22)),
    ),
    "hatchback": (
        ((0.07, 0.24), (0.1, 0.4), (0.33, 0.4), (0.33, 0.24)),
        ((0.37, 0.24), (0.37, 0.4), (0.57, 0.4), (0.72, 0.24)),
    ),
    "pickup": (((0.57, 0.26), (0.57, 0.38), (0.74, 0.38), (0.79, 0.26)),),
    "van": (
        ((0.06, 0.33), (0.06, 0.48), (0.26, 0.48), (0.26, 0.33)),
        ((0.3, 0.33), (0.3, 0.48), (0.5, 0.48), (0.5, 0.33)),
        ((0.54, 0.33), (0.54, 0.48), (0.74, 0.48), (0.74, 0.33)),
        ((0.79, 0.33), (0.79, 0.5), (0.9, 0.35)),
    ),
}


def draw_car(
    c: Canvas, rng: Rng, kind: str, x: float, road: float, length: float, color: RGB
) -> None:
    """A car centred on ``x`` whose wheels touch ``road``, facing left or right."""
    f = c.frame(x, road - 0.0825 * length, length, flip=chance(rng, 0.5))

    def shape(points: Iterable[Point]) -> list[Point]:
        return [(u - 0.5, -v) for u, v in points]

    if kind in CAR_CABIN:
        f.poly(shape(CAR_CABIN[kind]), color)
    f.poly(shape(CAR_BODY[kind]), color)
    for window in CAR_WINDOWS[kind]:
        f.poly(shape(window), GLASS)
    f.line(shape(((0.02, 0.09), (0.98, 0.09))), darker(color, 0.2), 0.01)
    f.circle(0.47, -0.14, 0.025, (252, 235, 140))  # headlight
    f.circle(-0.485, -0.15, 0.02, (200, 40, 40))  # tail light
    for u in (-0.3, 0.3):
        f.circle(u, 0, 0.11, (35, 35, 38))
        f.circle(u, 0, 0.05, (175, 175, 180))


def draw_cars(sc: Scene) -> None:
    c, rng = sc.canvas, sc.rng
    road = uni(rng, 62, 74)
    horizon = road - uni(rng, 4, 10)
    draw_sky(sc, horizon, sun=0.45, balloon=0.06)
    c.rect(0, horizon, L, road, jitter(rng, pick(rng, GRASS), 8))
    for _ in range(randint(rng, 0, 3)):
        x, h = uni(rng, 2, 94), uni(rng, 14, 24)
        if chance(rng, 0.5):
            draw_pine(c, x, road, h, jitter(rng, (45, 110, 65)))
        else:
            draw_round_tree(c, rng, x, road, h, jitter(rng, (80, 150, 70)))
    c.rect(0, road, L, L, jitter(rng, (72, 72, 78), 5))
    mid, x = (road + L) / 2 + 3, uni(rng, -6, 0)
    while x < L:  # dashed centre line
        c.rect(x, mid - 0.7, x + 6, mid + 0.7, (235, 235, 225))
        x += 12
    if chance(rng, 0.3):
        draw_lamp(c, uni(rng, 4, 92), road + 1, uni(rng, 18, 26))
        sc.notes.append("lamp")
    length = 58 * uni(rng, 0.75, 1.2)
    x = uni(rng, 2 + length / 2, L - 2 - length / 2)
    draw_car(c, rng, sc.variant, x, uni(rng, road + 9, L - 3), length, sc.color)


# --- cats ------------------------------------------------------------------------------------


def draw_cat_head(
    c: Canvas, rng: Rng, x: float, y: float, r: float, fur: RGB, asleep: bool
) -> None:
    f = c.frame(x, y, r)
    for side in (-1, 1):
        f.poly(((0.95 * side, -0.3), (0.75 * side, -1.35), (0.15 * side, -0.8)), fur)
        f.poly(((0.78 * side, -0.5), (0.7 * side, -1.1), (0.35 * side, -0.8)), (240, 160, 170))
    f.circle(0, 0, 1, fur)
    eye = pick(rng, ((120, 190, 80), (230, 190, 60), (90, 160, 210)))
    whisker = (70, 65, 65) if sum(fur) > 300 else (220, 220, 220)
    for side in (-1, 1):
        if asleep:
            f.arc(0.4 * side, -0.18, 0.2, 0.15, (20, 160), (40, 35, 35), 0.12)
        else:
            f.ellipse(0.4 * side, -0.08, 0.2, 0.24, eye)
            f.ellipse(0.4 * side, -0.08, 0.07, 0.2, (20, 20, 20))
        for dv in (-0.05, 0.12):
            f.line(((0.3 * side, 0.3), (1.25 * side, 0.25 + dv)), whisker, 0.05)
    f.poly(((-0.12, 0.18), (0.12, 0.18), (0, 0.32)), (230, 120, 140))


def draw_cats(sc: Scene) -> None:
    c, rng, fur = sc.canvas, sc.rng, sc.color
    c.rect(0, 0, L, L, jitter(rng, pick(rng, PASTELS), 8))
    floor = uni(rng, 64, 80)
    c.rect(
        0, floor, L, L, jitter(rng, pick(rng, ((190, 140, 95), (160, 110, 75), (205, 195, 180))), 8)
    )
    if chance(rng, 0.5):  # a window
        x, y, w = uni(rng, 4, 60), uni(rng, 4, 14), uni(rng, 24, 32)
        bottom = min(y + uni(rng, 26, 36), floor - 4)
        c.rect(x, y, x + w, bottom, WHITE)
        c.rect(x + 2, y + 2, x + w - 2, bottom - 2, jitter(rng, pick(rng, SKIES), 6))
        c.rect(x + w / 2 - 0.7, y, x + w / 2 + 0.7, bottom, WHITE)
    if chance(rng, 0.4):  # a ball of yarn
        yarn = COLORS[pick(rng, ("red", "blue", "pink", "yellow", "purple"))]
        f = c.frame(uni(rng, 8, 88), floor + uni(rng, 2, 10), uni(rng, 4, 6))
        f.circle(0, 0, 1, yarn)
        for u in (-0.5, 0, 0.5):
            f.arc(u, 0, 0.8, 1, (250, 470), darker(yarn, 0.3), 0.12)
    s, x = uni(rng, 0.8, 1.2), uni(rng, 26, 70)
    if sc.variant == "portrait":
        y = uni(rng, 40, 58)
        c.ellipse(x, y + 35 * s, 29 * s, 20 * s, fur)
        draw_cat_head(c, rng, x, y, 22 * s, fur, asleep=False)
    elif sc.variant == "sleeping":  # curled up on a cushion
        f = c.frame(x, floor + uni(rng, 4, 12), s)
        f.ellipse(
            0, -3, 27, 7, jitter(rng, COLORS[pick(rng, ("red", "teal", "purple", "blue"))], 10)
        )
        f.ellipse(3, -11, 19, 10, fur)
        f.line(((18, -8), (10, -2), (-8, -2)), fur, 3.5)
        draw_cat_head(c, rng, *f.at(-14, -14), 9 * s, fur, asleep=True)
    else:  # sitting
        f = c.frame(x, floor + uni(rng, 2, 10), s)
        f.line(((9, -3), (19, -5), (23, -15), (20, -23)), fur, 3.5)
        f.ellipse(0, -15, 13, 16, fur)
        f.ellipse(0, -13, 6, 10, lighter(fur, 0.25))
        draw_cat_head(c, rng, *f.at(0, -35), 11 * s, fur, asleep=False)


# --- fashion ---------------------------------------------------------------------------------

T_SHIRT: tuple[Point, ...] = ((-10, 0), (-22, 5), (-29, 18), (-21, 23), (-16, 16), (-16, 50))
T_SHIRT += tuple((-u, v) for u, v in reversed(T_SHIRT))  # mirrored right half


def draw_fashion(sc: Scene) -> None:
    c, rng, color = sc.canvas, sc.rng, sc.color
    wall = jitter(rng, pick(rng, (*PASTELS, (235, 235, 235))), 8)
    c.rect(0, 0, L, L, wall)
    if chance(rng, 0.5):
        c.rect(0, uni(rng, 74, 86), L, L, darker(wall, 0.08))
    s, x = uni(rng, 0.8, 1.15), uni(rng, 30, 66)
    pattern = lighter(color, 0.55) if sum(color) < 380 else darker(color, 0.3)
    if sc.variant == "dress":  # on a hanger, hanging from a rail
        top = uni(rng, 8, 20)
        c.line(((0, top - 2), (L, top - 2)), (120, 120, 125), 0.8)
        f = c.frame(x, top, s)
        f.line(((-12, 5), (0, -2), (12, 5)), (150, 110, 70), 1.2)
        for u in (-7, 7):
            f.line(((u, 4), (u, 8)), color, 1.2)
        f.poly(((-9, 8), (9, 8), (7.5, 24), (-7.5, 24)), color)
        f.poly(((-7.5, 24), (7.5, 24), (21, 58), (-21, 58)), color)
        f.rect(-7.5, 22, 7.5, 25.5, darker(color, 0.3))
        if chance(rng, 0.35):  # polka dots
            for _ in range(10):
                t, side = uni(rng, 0.1, 0.95), uni(rng, -0.8, 0.8)
                f.circle(side * (7.5 + 13.5 * t), 24 + 34 * t, 1.3, pattern)
    elif sc.variant == "handbag":
        f = c.frame(x, uni(rng, 40, 60), s)
        f.arc(0, -8, 12, 15, (180, 360), darker(color, 0.25), 2.4)
        f.poly(((-19, -9), (19, -9), (24, 17), (-24, 17)), color)
        f.poly(((-19, -9), (19, -9), (16, 4), (-16, 4)), darker(color, 0.15))
        f.circle(0, 4, 2.2, (215, 175, 60))
    elif sc.variant == "hat":
        f = c.frame(x, uni(rng, 40, 62), s)
        f.ellipse(0, 0, 31, 8, color)
        f.ellipse(0, -9, 15, 12, color)
        f.rect(-15, -9, 15, -1, color)
        f.rect(-15, -6, 15, -2, COLORS[pick(rng, ("black", "red", "white", "navy", "pink"))])
    else:  # t-shirt
        f = c.frame(x, uni(rng, 14, 30), s)
        f.poly(T_SHIRT, color)
        f.ellipse(0, 0, 7, 4.5, wall)
        if chance(rng, 0.35):  # stripes
            for k in range(4):
                f.rect(-16, 18 + 8 * k, 16, 21 + 8 * k, pattern)
    if chance(rng, 0.4):  # sunglasses
        f = c.frame(uni(rng, 12, 84), uni(rng, 76, 88))
        f.circle(-4, 0, 3.2, (30, 30, 35))
        f.circle(4, 0, 3.2, (30, 30, 35))
        f.line(((-1, -1), (1, -1)), (30, 30, 35), 0.8)


# --- space -----------------------------------------------------------------------------------

ROCKET = ((0, -26), (5, -18), (7, -8), (7, 12), (-7, 12), (-7, -8), (-5, -18))


def draw_space(sc: Scene) -> None:
    c, rng, color = sc.canvas, sc.rng, sc.color
    night = jitter(rng, pick(rng, ((10, 12, 32), (22, 16, 46), (6, 6, 16), (14, 28, 58))), 5)
    c.rect(0, 0, L, L, night)
    for _ in range(randint(rng, 22, 40)):
        star = pick(rng, ((250, 250, 250), (250, 240, 190), (200, 215, 255)))
        c.circle(uni(rng, 0, L), uni(rng, 0, L), uni(rng, 0.4, 0.9), star)
    for _ in range(randint(rng, 0, 2)):  # small far planets
        small = jitter(rng, COLORS[pick(rng, ("grey", "lavender", "orange", "turquoise"))], 15)
        c.circle(uni(rng, 4, 92), uni(rng, 4, 92), uni(rng, 2, 4.5), small)
    s = uni(rng, 0.75, 1.25)
    if sc.variant == "planet":
        r = 17 * s
        f = c.frame(uni(rng, 2 * r, L - 2 * r), uni(rng, r + 6, L - r - 6), r)
        ring = lighter(color, 0.45)
        f.arc(0, 0, 1.9, 0.45, (180, 360), ring, 0.1)  # the back of the ring
        f.circle(0, 0, 1, color)
        for k in range(randint(rng, 2, 3)):
            v = uni(rng, -0.85, 0.7)
            f.poly(circle_band(0, 0, 1, v, v + uni(rng, 0.1, 0.22)), darker(color, 0.12 + 0.08 * k))
        f.arc(0, 0, 1.9, 0.45, (0, 180), ring, 0.1)  # the front of the ring
    elif sc.variant == "rocket":
        f = c.frame(uni(rng, 28, 68), uni(rng, 30, 64), s, angle=uni(rng, -0.5, 0.5))
        f.poly(((-5, 13), (0, 28), (5, 13)), (250, 160, 40))
        f.poly(((-2.5, 13), (0, 21), (2.5, 13)), (252, 230, 100))
        f.poly(((-7, 2), (-14, 16), (-7, 12)), color)
        f.poly(((7, 2), (14, 16), (7, 12)), color)
        f.poly(ROCKET, (236, 236, 240))
        f.poly(((0, -26), (5, -18), (-5, -18)), color)
        f.circle(0, -6, 4.2, (150, 150, 160))
        f.circle(0, -6, 3, (90, 160, 220))
    else:  # crescent moon: a disc with a night-coloured disc over it
        r = 18 * s
        f = c.frame(uni(rng, r + 4, L - r - 4), uni(rng, r + 4, L - r - 4), r)
        f.circle(0, 0, 1, color)
        f.circle(0.45, -0.2, 0.88, night)
    if chance(rng, 0.25):  # a shooting star
        x, y = uni(rng, 10, 70), uni(rng, 6, 40)
        c.line(((x, y), (x + 14, y + 6)), (200, 210, 240), 0.6)
        c.circle(x + 14, y + 6, 1.2, (250, 250, 250))


# --- forest ----------------------------------------------------------------------------------


def draw_mushroom(c: Canvas, x: float, base: float, r: float, cap: RGB) -> None:
    f = c.frame(x, base, r)
    f.rect(-0.3, -1.05, 0.3, 0, (242, 232, 210))
    f.poly([(math.cos(t), -1 - 0.8 * math.sin(t)) for t in np.linspace(0, math.pi, 13)], cap)
    for u, v in ((-0.5, -0.25), (0.1, -0.55), (0.5, -0.2), (-0.1, -0.15)):
        f.circle(u, v - 1, 0.12, WHITE)


def draw_forest(sc: Scene) -> None:
    c, rng, color = sc.canvas, sc.rng, sc.color
    horizon = uni(rng, 56, 74)
    sky = draw_sky(sc, horizon, sun=0.45, balloon=0.08)
    hill = mix(jitter(rng, (120, 170, 110), 10), sky, 0.3)
    c.ellipse(uni(rng, 10, 86), horizon + 4, uni(rng, 40, 60), uni(rng, 12, 20), hill)
    c.rect(0, horizon, L, L, jitter(rng, pick(rng, GRASS), 8))
    s, x, base = uni(rng, 0.8, 1.3), uni(rng, 18, 78), uni(rng, horizon + 10, L - 3)
    if sc.variant == "autumn":
        for _ in range(randint(rng, 3, 6)):
            leaf = mix(COLORS[pick(rng, ("orange", "red", "yellow", "olive"))], sky, 0.3)
            draw_round_tree(
                c, rng, uni(rng, 0, L), horizon + uni(rng, 0, 4), uni(rng, 14, 24), leaf
            )
        draw_round_tree(c, rng, x, base, min(46 * s, base - 4), color)
        for _ in range(randint(rng, 3, 8)):  # fallen leaves
            c.circle(uni(rng, 0, L), uni(rng, horizon + 2, L), 0.9, jitter(rng, color, 20))
        return
    pine = color if sc.variant == "pine" else jitter(rng, (45, 110, 65))
    for _ in range(randint(rng, 3, 7)):
        draw_pine(
            c, uni(rng, 0, L), horizon + uni(rng, 0, 4), uni(rng, 14, 26), mix(pine, sky, 0.35)
        )
    if sc.variant == "pine":
        draw_pine(c, x, base, min(50 * s, base - 4), color)
        for _ in range(randint(rng, 0, 2)):
            draw_pine(
                c, uni(rng, 4, 92), uni(rng, horizon + 6, L), uni(rng, 20, 32), darker(pine, 0.1)
            )
    else:  # a big toadstool and a small one
        draw_mushroom(c, x, base, 14 * s, color)
        draw_mushroom(c, x + uni(rng, 14, 20) * s * pick(rng, (-1, 1)), base, 7.7 * s, color)


# --- desserts --------------------------------------------------------------------------------

SPRINKLES = ("red", "yellow", "blue", "white", "mint", "orange")


def draw_desserts(sc: Scene) -> None:
    c, rng, color = sc.canvas, sc.rng, sc.color
    bg = jitter(rng, pick(rng, PASTELS), 8)
    c.rect(0, 0, L, L, bg)
    if chance(rng, 0.3):  # polka-dot wallpaper
        step = pick(rng, (12, 16))
        for i, j in itertools.product(range(0, 100, step), repeat=2):
            c.circle(i + (j // step % 2) * step / 2, j, 1.5, lighter(bg, 0.5))
    table = uni(rng, 74, 88)
    if chance(rng, 0.6):
        c.rect(0, table, L, L, jitter(rng, pick(rng, ((250, 250, 250), (190, 140, 95))), 6))
    s, x = uni(rng, 0.8, 1.2), uni(rng, 28, 68)
    if sc.variant == "cupcake":
        f = c.frame(x, min(table + uni(rng, 0, 6), L - 3), s)
        paper = jitter(rng, pick(rng, ((250, 250, 250), (245, 200, 215), (190, 225, 240))), 6)
        f.poly(((-12, -18), (12, -18), (9, 0), (-9, 0)), paper)
        for k in range(-3, 4):
            f.line(((3 * k, -18), (2.3 * k, 0)), darker(paper, 0.12), 0.6)
        for k, (up, rx, ry) in enumerate(((20, 15, 6), (26, 12, 5.5), (31, 8, 5), (35, 4.5, 4))):
            f.ellipse(0, -up, rx, ry, lighter(color, 0.06 * (k % 2)))
        f.line(((0, -41), (2, -46)), (90, 60, 40), 0.7)
        f.circle(0, -41, 3.4, (205, 30, 45))
    elif sc.variant == "icecream":
        f = c.frame(x, uni(rng, 38, 50), s)  # origin at the rim of the cone
        cone = (222, 172, 102)
        f.poly(((-10, 0), (10, 0), (0, 34)), cone)
        for t in (0.25, 0.5, 0.75):  # waffle pattern
            f.line(
                ((-10 * (1 - t), 34 * t), (10 * (1 - t / 3), 34 * t / 3)), darker(cone, 0.2), 0.6
            )
            f.line(
                ((10 * (1 - t), 34 * t), (-10 * (1 - t / 3), 34 * t / 3)), darker(cone, 0.2), 0.6
            )
        scoops = [color] + [COLORS[pick(rng, tuple(FLAVORS))] for _ in range(randint(rng, 0, 2))]
        for k, scoop in enumerate(scoops):
            f.circle(0, -3 - 13 * k, 10.5, scoop)
        for drip in (-6.0, -1.0, 5.0):
            f.ellipse(drip, 1.5, 2, 3, color)
    elif sc.variant == "donut":
        dough, f = (212, 160, 100), c.frame(x, uni(rng, 34, 62), 22 * s)
        f.circle(0, 0, 1, dough)
        wavy = [(0.84 + 0.05 * math.sin(7 * t), t) for t in np.linspace(0, 2 * math.pi, 40)]
        f.poly([(r * math.cos(t), r * math.sin(t)) for r, t in wavy], color)  # the icing
        for u, v in scatter(rng, 14, 0.72, 0.4):
            du, dv = scatter(rng, 1, 0.09, 0.09)[0]
            f.line(((u, v), (u + du, v + dv)), COLORS[pick(rng, SPRINKLES)], 0.03)
        f.circle(0, 0, 0.36, dough)
        f.circle(0, 0, 0.28, bg)
    else:  # a slice of layer cake on a plate, seen from the side
        f = c.frame(x, min(table + uni(rng, 2, 6), L - 4), s)
        f.ellipse(0, 0, 30, 5, WHITE)
        sponge = (235, 200, 140) if distance(color, COLORS["brown"]) > 60 else (120, 75, 50)
        for lo, hi, layer in (
            (0, 8, sponge),
            (8, 11.5, color),
            (11.5, 20, sponge),
            (20, 24, color),
        ):
            f.rect(-22, -2 - hi, 16, -2 - lo, layer)
        f.poly(((-22, -26), (16, -26), (24, -33)), lighter(color, 0.15))
        f.poly(((16, -26), (24, -33), (24, -9), (16, -2)), darker(sponge, 0.1))
        f.circle(12, -30, 3.5, (215, 40, 55))
    for _ in range(randint(rng, 0, 3)):  # candies
        candy = COLORS[pick(rng, ("pink", "yellow", "mint", "lavender"))]
        c.circle(uni(rng, 4, 92), uni(rng, table, L), 1.8, candy)


# --- geometry --------------------------------------------------------------------------------


def draw_geometry(sc: Scene) -> None:
    c, rng, color = sc.canvas, sc.rng, sc.color
    backgrounds = ((245, 238, 220), (250, 250, 245), (28, 36, 70), (30, 30, 34), (228, 184, 70))
    bg = jitter(rng, pick(rng, [b for b in backgrounds if distance(b, color) > 120]), 5)
    c.rect(0, 0, L, L, bg)
    accents = [COLORS[n] for n in ("red", "yellow", "blue", "black", "teal", "orange", "cream")]
    accents = [a for a in accents if distance(a, color) > 90 and distance(a, bg) > 120]
    s = uni(rng, 0.75, 1.2)
    if sc.variant == "circles":
        n, accent = randint(rng, 3, 5), pick(rng, accents)
        f = c.frame(uni(rng, 20, 76), uni(rng, 20, 76), 30 * s)
        for k in range(n):
            f.circle(0, 0, 1 - k / n, color if k % 2 == 0 else accent)
    elif sc.variant == "triangles":
        for _ in range(randint(rng, 2, 4)):
            x, y, r = uni(rng, 8, 88), uni(rng, 8, 88), uni(rng, 6, 12)
            c.polygon(ellipse_points(x, y, r, r, uni(rng, 0, 2.1), 3), pick(rng, accents))
        x, y, r = uni(rng, 28, 68), uni(rng, 30, 66), 28 * s
        c.polygon(ellipse_points(x, y, r, r, uni(rng, 0, 2.1), 3), color)
    elif sc.variant == "grid":
        n, cell, accent = randint(rng, 3, 5), uni(rng, 11, 15) * s, pick(rng, accents)
        f = c.frame(
            uni(rng, 2, max(3, L - n * cell - 2)), uni(rng, 2, max(3, L - n * cell - 2)), cell
        )
        for i, j in itertools.product(range(n), repeat=2):
            if (i + j) % 2 == 0:
                f.rect(i + 0.08, j + 0.08, i + 0.92, j + 0.92, color)
            elif chance(rng, 0.5):
                f.rect(i + 0.08, j + 0.08, i + 0.92, j + 0.92, accent)
    else:  # Bauhaus: a block, a half-shaded disc, a bar and a dot
        c.rect(
            uni(rng, 0, 50), uni(rng, 0, 50), uni(rng, 50, 96), uni(rng, 50, 96), pick(rng, accents)
        )
        f = c.frame(uni(rng, 26, 70), uni(rng, 26, 70), 24 * s)
        f.circle(0, 0, 1, color)
        f.poly(circle_band(0, 0, 1, 0, 1), darker(color, 0.25))
        c.line(
            ((uni(rng, 0, 30), uni(rng, 60, 96)), (uni(rng, 66, 96), uni(rng, 0, 40))),
            (25, 25, 28),
            2.2,
        )
        c.circle(uni(rng, 8, 88), uni(rng, 8, 88), uni(rng, 4, 8), pick(rng, accents))


DRAWERS: dict[str, Callable[[Scene], None]] = {
    "flowers": draw_flowers,
    "ocean": draw_ocean,
    "mountains": draw_mountains,
    "food": draw_food,
    "architecture": draw_architecture,
    "cars": draw_cars,
    "cats": draw_cats,
    "fashion": draw_fashion,
    "space": draw_space,
    "forest": draw_forest,
    "desserts": draw_desserts,
    "geometry": draw_geometry,
}


# ---------------------------------------------------------------------------------------------
# Pins
# ---------------------------------------------------------------------------------------------


@dataclass
class Pin:
    index: int
    topic: str
    variant: str
    noun: str
    color: str
    duplicate_of: int | None = None  # index of the pin whose drawing this one copies
    title: str = ""
    description: str = ""

    @property
    def id(self) -> str:
        return f"p{self.index:05d}"

    @property
    def image(self) -> str:
        return f"images/{self.id}.png"


def make_pins() -> list[Pin]:
    """Topics, variants, nouns and colours of all pins; near-duplicates copy another pin."""
    rng = np.random.default_rng([SEED, STREAM_PINS])
    shares = rng.dirichlet(np.full(len(TOPICS), 40.0))
    topics = np.repeat(np.arange(len(TOPICS)), rng.multinomial(N_PINS, shares))
    rng.shuffle(topics)
    pins = []
    for i, t in enumerate(topics):
        topic = TOPICS[int(t)]
        variant = pick(rng, tuple(topic.variants))
        spec = topic.variants[variant]
        color = pick(rng, spec.colors or TOPIC_COLORS[topic.name])
        pins.append(Pin(i, topic.name, variant, pick(rng, spec.nouns), color))
    dups = rng.choice(N_PINS, size=N_NEAR_DUPLICATES, replace=False)
    taken = set(int(d) for d in dups)
    for d in sorted(taken):
        same = [p.index for p in pins if p.topic == pins[d].topic and p.index not in taken]
        original = pins[pick(rng, same)]
        taken.add(original.index)
        pins[d].variant, pins[d].noun = original.variant, original.noun
        pins[d].color, pins[d].duplicate_of = original.color, original.index
    return pins


def render(pin: Pin, pins: Sequence[Pin]) -> tuple[Image.Image, list[str]]:
    """Draw a pin's image; a near-duplicate is its original's drawing, shifted and recoloured."""
    source = pins[pin.duplicate_of] if pin.duplicate_of is not None else pin
    rng = np.random.default_rng([SEED, STREAM_DRAW, source.index])
    scene = Scene(Canvas(), rng, source.variant, jitter(rng, COLORS[source.color], 14))
    DRAWERS[source.topic](scene)
    image = scene.canvas.finish()
    if pin.duplicate_of is not None:
        dup = np.random.default_rng([SEED, STREAM_DUP, pin.index])
        dx, dy = (int(v) * pick(dup, (-1, 1)) for v in dup.integers(1, 4, size=2))
        pixels = np.asarray(image, dtype=np.float64)
        padded = np.pad(pixels, ((3, 3), (3, 3), (0, 0)), mode="edge")
        pixels = padded[3 - dy : 3 - dy + IMAGE_SIZE, 3 - dx : 3 - dx + IMAGE_SIZE]
        pixels = pixels * dup.uniform(0.95, 1.05, size=3) + dup.uniform(-5, 5)
        image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")
    return image, scene.notes


def write_text(pin: Pin, notes: Sequence[str], pins: Sequence[Pin]) -> None:
    rng = np.random.default_rng([SEED, STREAM_TEXT, pin.index])
    topic = TOPIC_BY_NAME[pin.topic]
    if pin.duplicate_of is not None and chance(rng, 0.5):
        pin.title = pins[pin.duplicate_of].title  # re-uploads often keep the title
    else:
        pin.title = fill(pick(rng, topic.titles), pin.noun, pin.color)
    sentences = [fill(pick(rng, topic.scenes), pin.noun, pin.color)]
    sentences += [pick(rng, NOTES[note]) for note in dict.fromkeys(notes)]
    sentences.append(pick(rng, topic.tips))
    pin.description = " ".join(sentences)


# ---------------------------------------------------------------------------------------------
# Boards and edges
# ---------------------------------------------------------------------------------------------


@dataclass
class Board:
    index: int
    name: str
    topic: str
    mix: dict[str, float]  # topic -> share of the board's pins

    @property
    def id(self) -> str:
        return f"b{self.index:04d}"


def board_name(rng: Rng, topics: Sequence[str]) -> str:
    phrases = [pick(rng, TOPIC_BY_NAME[t].boards) for t in topics]
    rest = [p if p.split()[0] in PROPER_PHRASES else p[0].lower() + p[1:] for p in phrases[1:]]
    if not rest:
        return phrases[0]
    if len(rest) == 1:
        return f"{phrases[0]} & {rest[0]}"
    return f"{phrases[0]}, {rest[0]} & {rest[1]}"


def make_boards(pins: Sequence[Pin], rng: Rng) -> list[Board]:
    """Boards with a main topic (as many per topic as the topic has pins) and a topic mix."""
    names = [t.name for t in TOPICS]
    pin_counts = Counter(p.topic for p in pins)
    shares = np.array([pin_counts[n] for n in names]) / len(pins)
    quota = np.floor(shares * N_BOARDS).astype(int)
    quota[np.argsort(-(shares * N_BOARDS - quota))[: N_BOARDS - quota.sum()]] += 1
    mains = np.repeat(np.arange(len(TOPICS)), quota)
    rng.shuffle(mains)
    boards = []
    for b, m in enumerate(mains):
        main = names[int(m)]
        n_extra = int(rng.choice(3, p=[0.25, 0.45, 0.3]))
        extras: list[str] = []
        while len(extras) < n_extra:
            pool = TOPIC_BY_NAME[main].related if chance(rng, 0.7) else tuple(names)
            t = pick(rng, pool)
            if t != main and t not in extras:
                extras.append(t)
        mix = {main: 1.0}
        if extras:
            main_share = uni(rng, 0.65, 0.9)
            rest = rng.dirichlet(np.full(len(extras), 2.0)) * (1 - main_share)
            mix = {main: main_share} | {t: float(r) for t, r in zip(extras, rest, strict=True)}
        boards.append(Board(b, board_name(rng, [main, *extras]), main, mix))
    return boards


def make_edges(
    pins: Sequence[Pin], boards: Sequence[Board], rng: Rng
) -> list[tuple[int, int, str]]:
    """(board, pin, timestamp) rows: Zipf popularity within topics, every pin on a board."""
    by_topic = {t.name: np.array([p.index for p in pins if p.topic == t.name]) for t in TOPICS}
    weights = {}
    for name, members in by_topic.items():
        rank = rng.permutation(len(members)) + 1.0
        w = rank**-ZIPF_EXPONENT
        weights[name] = w / w.sum()
    sizes = rng.lognormal(np.log(BOARD_MEDIAN), 0.7, size=len(boards))
    sizes = np.clip(np.rint(sizes), 10, 150).astype(int)
    pairs: set[tuple[int, int]] = set()
    for board, size in zip(boards, sizes, strict=True):
        topics = list(board.mix)
        counts = rng.multinomial(size, [board.mix[t] for t in topics])
        for topic, k in zip(topics, counts, strict=True):
            k = min(int(k), len(by_topic[topic]))
            chosen = rng.choice(by_topic[topic], size=k, replace=False, p=weights[topic])
            pairs.update((board.index, int(p)) for p in chosen)
    saved = {p for _, p in pairs}
    for pin in pins:
        if pin.index not in saved:
            home = [b.index for b in boards if b.topic == pin.topic]
            pairs.add((pick(rng, home), pin.index))
    # Timestamps: after the board and the pin were both created, before END.
    span = int((END - START) / np.timedelta64(1, "s"))
    board_born = rng.integers(0, int(span * 0.85), size=len(boards))
    pin_born = rng.integers(-span // 10, int(span * 0.95), size=len(pins))
    rows = []
    for b, p in sorted(pairs):
        first = max(int(board_born[b]), int(pin_born[p]), 0)
        delay = int(rng.exponential(span / 12))
        t = first + delay if first + delay <= span else int(rng.integers(first, span + 1))
        stamp = str(START + np.timedelta64(t, "s")).replace("T", " ")
        rows.append((b, p, stamp))
    rows.sort(key=lambda r: (r[0], r[2], r[1]))
    return rows


# ---------------------------------------------------------------------------------------------
# Output, statistics, contact sheet
# ---------------------------------------------------------------------------------------------


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate(out: Path) -> None:
    pins = make_pins()
    images = out / "images"
    if images.exists():
        shutil.rmtree(images)
    images.mkdir(parents=True)
    # Originals first, so a near-duplicate can reuse its original's title.
    for pin in sorted(pins, key=lambda p: p.duplicate_of is not None):
        image, notes = render(pin, pins)
        image.save(out / pin.image, optimize=True)
        write_text(pin, notes, pins)
    graph_rng = np.random.default_rng([SEED, STREAM_GRAPH])
    boards = make_boards(pins, graph_rng)
    edges = make_edges(pins, boards, graph_rng)
    write_csv(
        out / "pins.csv",
        ("pin", "title", "description", "image", "topic", "color"),
        [(p.id, p.title, p.description, p.image, p.topic, p.color) for p in pins],
    )
    write_csv(
        out / "boards.csv", ("board", "name", "topic"), [(b.id, b.name, b.topic) for b in boards]
    )
    write_csv(
        out / "edges.csv",
        ("board", "pin", "timestamp"),
        [(boards[b].id, pins[p].id, t) for b, p, t in edges],
    )
    duplicates = {p.id: pins[p.duplicate_of].id for p in pins if p.duplicate_of is not None}
    (out / "truth").mkdir(exist_ok=True)
    (out / "truth" / "near_duplicates.json").write_text(json.dumps(duplicates, indent=1) + "\n")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def describe(values: Sequence[int]) -> str:
    a = np.asarray(values)
    return f"min {a.min()}, median {np.median(a):g}, mean {a.mean():.1f}, max {a.max()}"


def check(out: Path) -> None:
    """Print counts, degree statistics, topic purity and size on disk of the files in ``out``."""
    pins, boards, edges = (read_csv(out / f"{n}.csv") for n in ("pins", "boards", "edges"))
    pin_topic = {p["pin"]: p["topic"] for p in pins}
    board_topic = {b["board"]: b["topic"] for b in boards}
    pin_deg = Counter(e["pin"] for e in edges)
    board_pins: dict[str, list[str]] = {}
    for e in edges:
        board_pins.setdefault(e["board"], []).append(e["pin"])
    deg = [pin_deg.get(p["pin"], 0) for p in pins]
    purity = [
        np.mean([pin_topic[p] == board_topic[b] for p in members])
        for b, members in board_pins.items()
    ]
    n_topics = [len({pin_topic[p] for p in members}) for members in board_pins.values()]
    stamps = sorted(e["timestamp"] for e in edges)
    print(f"pins {len(pins)}, boards {len(boards)}, edges {len(edges)}")
    print(f"distinct (board, pin) pairs {len({(e['board'], e['pin']) for e in edges})}")
    print(f"pin degree:   {describe(deg)}; share on 1-5 boards {np.mean(np.array(deg) <= 5):.2f}")
    top = sorted(deg, reverse=True)[:10]
    print(f"  top-10 pin degrees {top}; pins on 1 board {deg.count(1)}")
    print(f"board degree: {describe([len(m) for m in board_pins.values()])}")
    print(
        f"board pins in the board's main topic: mean {np.mean(purity):.2f}, min {min(purity):.2f}"
    )
    print(f"topics per board (>=1 pin): {dict(sorted(Counter(n_topics).items()))}")
    print(f"pins per topic: {dict(sorted(Counter(pin_topic.values()).items()))}")
    print(f"colors: {dict(Counter(p['color'] for p in pins).most_common())}")
    print(f"timestamps {stamps[0]} .. {stamps[-1]}")
    print(
        f"duplicate titles {len(pins) - len({p['title'] for p in pins})}, board names "
        f"{len(boards) - len({b['name'] for b in boards})}"
    )
    files = [f for f in out.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    apparent = sum(f.stat().st_size for f in files)
    blocks = sum(f.stat().st_blocks * 512 for f in files)
    pngs = [f.stat().st_size for f in (out / "images").glob("*.png")]
    mib = 2**20
    print(f"files {len(files)}: {apparent / mib:.2f} MiB apparent, {blocks / mib:.2f} MiB on disk")
    print(f"png bytes: {describe(pngs)}; over 4096 bytes: {sum(s > 4096 for s in pngs)}")


def contact_sheet(out: Path, path: Path, per_topic: int = 10) -> None:
    """Save a grid with ``per_topic`` images of every topic, one row per topic."""
    pins = read_csv(out / "pins.csv")
    sheet = Image.new(
        "RGB", (per_topic * (IMAGE_SIZE + 4), len(TOPICS) * (IMAGE_SIZE + 4)), (255,) * 3
    )
    for row, topic in enumerate(TOPICS):
        members = [p for p in pins if p["topic"] == topic.name][:per_topic]
        for col, p in enumerate(members):
            sheet.paste(
                Image.open(out / p["image"]), (col * (IMAGE_SIZE + 4), row * (IMAGE_SIZE + 4))
            )
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    parser.add_argument("--check", action="store_true", help="only print statistics of --out")
    parser.add_argument("--sheet", type=Path, help="also save a contact sheet PNG here")
    args = parser.parse_args()
    if not args.check:
        generate(args.out)
    check(args.out)
    if args.sheet:
        contact_sheet(args.out, args.sheet)


if __name__ == "__main__":
    main()
