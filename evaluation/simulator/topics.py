"""The catalogue of the world as data: topics, merchant categories, cities, countries.

A topic is what a circle is about; its categories are where an interest in it shows up in
payments. `where` says where a category's merchants are: in the payer's home city, in
another domestic city, or abroad.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Where = Literal["home", "domestic", "abroad"]


@dataclass(frozen=True)
class Category:
    name: str
    median_cny: float  # median ticket size
    sigma: float  # lognormal spread of the ticket size
    where: Where = "home"


@dataclass(frozen=True)
class Topic:
    name: str
    popularity: float  # relative prior weight of the topic among users
    categories: tuple[Category, ...]
    circle_names: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic(
        "overseas_life",
        0.7,
        (
            Category("airline", 2600.0, 0.6, "abroad"),
            Category("duty_free", 900.0, 0.9, "abroad"),
            Category("foreign_hotel", 1100.0, 0.6, "abroad"),
            Category("currency_exchange", 2000.0, 0.8, "abroad"),
        ),
        (
            "Overseas Life",
            "Living Abroad",
            "Expats Corner",
            "Tokyo Weekends",
            "Study Abroad",
            "Duty Free Hunters",
        ),
    ),
    Topic(
        "campus_life",
        0.6,
        (
            Category("campus_canteen", 14.0, 0.4),
            Category("campus_bookstore", 45.0, 0.7),
            Category("stationery", 20.0, 0.6),
        ),
        ("Campus Life", "Dorm Talk", "Exam Season", "Freshers", "Library Crew", "Canteen Reviews"),
    ),
    Topic(
        "pets",
        0.8,
        (Category("pet_store", 120.0, 0.8), Category("vet_clinic", 300.0, 0.7)),
        ("Pet Lovers", "Cat People", "Dog Walkers", "Vet Tips", "Rescue Friends", "Paws Club"),
    ),
    Topic(
        "fitness",
        0.9,
        (Category("gym", 150.0, 0.8), Category("sports_goods", 280.0, 0.8)),
        (
            "Fitness Club",
            "Morning Runners",
            "Lift Together",
            "Yoga Circle",
            "Marathon Prep",
            "Home Workouts",
        ),
    ),
    Topic(
        "foodies",
        1.3,
        (
            Category("restaurant", 110.0, 0.6),
            Category("cafe", 32.0, 0.4),
            Category("bakery", 28.0, 0.5),
        ),
        (
            "Foodies",
            "Hidden Gems",
            "Hotpot Society",
            "Coffee Crawl",
            "Bakery Hunters",
            "Street Food",
        ),
    ),
    Topic(
        "parenting",
        0.8,
        (Category("baby_store", 180.0, 0.7), Category("toy_store", 150.0, 0.7)),
        ("Parenting", "New Parents", "Toddler Days", "School Run", "Family Weekends", "Baby Gear"),
    ),
    Topic(
        "gaming",
        0.8,
        (Category("game_store", 90.0, 0.8), Category("electronics", 900.0, 1.0)),
        ("Gamers", "Console Corner", "Mobile Gaming", "Retro Games", "PC Builders", "Esports Fans"),
    ),
    Topic(
        "beauty",
        0.8,
        (Category("cosmetics", 220.0, 0.7), Category("salon", 160.0, 0.6)),
        ("Beauty Tips", "Skincare Talk", "Makeup Lab", "Hair Studio", "Nail Art", "Glow Up"),
    ),
    Topic(
        "cars",
        0.6,
        (
            Category("gas_station", 300.0, 0.4),
            Category("car_wash", 45.0, 0.4),
            Category("auto_parts", 400.0, 0.9),
        ),
        ("Car Owners", "Road Trips", "EV Drivers", "Weekend Mechanics", "Car Care", "Auto Club"),
    ),
    Topic(
        "home",
        0.6,
        (Category("furniture", 1200.0, 0.9), Category("home_improvement", 350.0, 0.9)),
        (
            "Home & Living",
            "Small Spaces",
            "DIY Home",
            "Renovation Diary",
            "Plant Parents",
            "Cozy Corners",
        ),
    ),
    Topic(
        "music_arts",
        0.6,
        (
            Category("concert_tickets", 480.0, 0.6),
            Category("music_store", 200.0, 0.9),
            Category("gallery", 80.0, 0.6),
        ),
        (
            "Music Lovers",
            "Live Gigs",
            "Art Walks",
            "Vinyl Collectors",
            "Theatre Club",
            "Indie Scene",
        ),
    ),
    Topic(
        "travel_domestic",
        0.8,
        (
            Category("train_tickets", 260.0, 0.6, "domestic"),
            Category("domestic_hotel", 420.0, 0.6, "domestic"),
            Category("scenic_spots", 120.0, 0.6, "domestic"),
        ),
        (
            "Weekend Getaways",
            "High-Speed Rail",
            "Ancient Towns",
            "Mountain Trips",
            "City Breaks",
            "Travel Buddies",
        ),
    ),
    Topic(
        "investing",
        0.5,
        (Category("brokerage", 2000.0, 1.0), Category("gold_shop", 1500.0, 0.9)),
        (
            "Investing 101",
            "Fund Watchers",
            "Gold Bugs",
            "Frugal Living",
            "Market Chat",
            "Wealth Builders",
        ),
    ),
    Topic(
        "outdoors",
        0.5,
        (Category("outdoor_gear", 350.0, 0.9), Category("ski_resort", 600.0, 0.6, "domestic")),
        ("Outdoors", "Hiking Trails", "Camping Crew", "Ski & Snow", "Cycling Club", "Climbers"),
    ),
)

GENERIC: tuple[tuple[Category, float], ...] = (
    (Category("grocery", 60.0, 0.7), 0.22),
    (Category("convenience_store", 18.0, 0.6), 0.22),
    (Category("supermarket", 120.0, 0.7), 0.16),
    (Category("transport", 6.0, 0.5), 0.2),
    (Category("utilities", 180.0, 0.5), 0.04),
    (Category("food_delivery", 38.0, 0.4), 0.16),
)

CITIES: tuple[tuple[str, float], ...] = (
    ("Shanghai", 0.14),
    ("Beijing", 0.13),
    ("Shenzhen", 0.11),
    ("Guangzhou", 0.1),
    ("Hangzhou", 0.1),
    ("Chengdu", 0.09),
    ("Wuhan", 0.07),
    ("Nanjing", 0.06),
    ("Chongqing", 0.06),
    ("Xi'an", 0.05),
    ("Suzhou", 0.05),
    ("Tianjin", 0.04),
)
HOME_COUNTRY = "CN"
HOME_CURRENCY = "CNY"

# (country, currency, units of local currency per CNY, relative weight as a destination)
ABROAD: tuple[tuple[str, str, float, float], ...] = (
    ("JP", "JPY", 20.5, 0.26),
    ("TH", "THB", 4.9, 0.18),
    ("SG", "SGD", 0.19, 0.1),
    ("KR", "KRW", 190.0, 0.16),
    ("US", "USD", 0.14, 0.1),
    ("GB", "GBP", 0.11, 0.06),
    ("FR", "EUR", 0.13, 0.06),
    ("AU", "AUD", 0.21, 0.08),
)
WHOLE_UNIT_CURRENCIES = frozenset({"JPY", "KRW"})

CHANNELS: tuple[str, ...] = ("qr", "app", "card", "nfc")
CHANNEL_MIX_HOME: tuple[float, ...] = (0.58, 0.2, 0.1, 0.12)
CHANNEL_MIX_ABROAD: tuple[float, ...] = (0.25, 0.15, 0.45, 0.15)

MEDIA_TYPES: tuple[str, ...] = ("text", "image", "video")

TOPIC_NAMES: tuple[str, ...] = tuple(t.name for t in TOPICS)
TOPIC_INDEX: dict[str, int] = {name: i for i, name in enumerate(TOPIC_NAMES)}


@dataclass(frozen=True)
class CategoryTable:
    """All categories flattened: index i has a name, an owning topic (-1 = generic) etc."""

    names: tuple[str, ...]
    topic: tuple[int, ...]
    median_cny: tuple[float, ...]
    sigma: tuple[float, ...]
    where: tuple[Where, ...]
    generic_weight: tuple[float, ...]


def category_table() -> CategoryTable:
    names: list[str] = []
    topic: list[int] = []
    med: list[float] = []
    sig: list[float] = []
    where: list[Where] = []
    generic: list[float] = []
    for cat, weight in GENERIC:
        names.append(cat.name)
        topic.append(-1)
        med.append(cat.median_cny)
        sig.append(cat.sigma)
        where.append(cat.where)
        generic.append(weight)
    for ti, t in enumerate(TOPICS):
        for cat in t.categories:
            names.append(cat.name)
            topic.append(ti)
            med.append(cat.median_cny)
            sig.append(cat.sigma)
            where.append(cat.where)
            generic.append(0.0)
    return CategoryTable(
        tuple(names), tuple(topic), tuple(med), tuple(sig), tuple(where), tuple(generic)
    )
