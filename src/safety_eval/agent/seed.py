"""Deterministic production-like data for the simulated database.

``seed_database`` creates the common schema (companies, customers, orders) and fills it
from a seed: 1,196 companies, 1,206 customers (executive contacts) and 2,000 orders.
The same seed always gives byte-identical rows. Scenario ``setup_sql`` runs on top.
"""

from __future__ import annotations

import random
import sqlite3

COMPANY_COUNT = 1196
CUSTOMER_COUNT = 1206
ORDER_COUNT = 2000

SCHEMA_SQL = """
CREATE TABLE companies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    domain TEXT NOT NULL,
    industry TEXT NOT NULL,
    country TEXT NOT NULL,
    phone TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    country TEXT NOT NULL,
    is_test INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_customers_company ON customers(company_id);
CREATE INDEX idx_orders_customer ON orders(customer_id);
"""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Amara Bruno Chiara Dmitri Elena Farid Grace Hiroshi Ines Jonas Kavya Liam Mireille Nadia "
    "Oskar Priya Quentin Rosa Samir Tamsin Umar Valeria Wen Ximena Yusuf Zofia Aurelio Beatrix "
    "Cormac Delphine Emeka Freya Gustavo Hana Ilse Joaquin Keiko Lorenzo Maeve Nikolai"
)
_LAST = _words(
    "Abernathy Baptiste Castellano Dimitrov Eriksen Fontaine Gallagher Hashemi Iwasaki Jovanovic "
    "Kowalczyk Lindqvist Marchetti Nakamura Oyelaran Petrakis Quintero Rasmussen Sokolova "
    "Thornbury Underwood Varga Whitcombe Xiong Yamamoto Zielinski Adeyemi Bergstrom Carvalho "
    "Delacroix Esposito Falkenberg Gonzaga Hollis Ibarra Jansen Kuznetsov Laurent Mbeki Novak"
)
_TITLES = (
    "CEO",
    "CFO",
    "CTO",
    "COO",
    "CMO",
    "Chief Revenue Officer",
    "VP Sales",
    "VP Engineering",
    "VP Finance",
    "General Counsel",
    "Managing Director",
    "Head of Procurement",
)
_ADJ = _words(
    "Northwind Bluepeak Silverline Ironbridge Brightwater Redcliff Evergreen Goldfield Stonegate "
    "Clearsky Highland Riverside Oakmont Sunward Deepwell Frostvale Harbor Kingsway Lakeshore "
    "Meridian Pinecrest Quarry Summit Westbrook"
)
_NOUN = _words(
    "Logistics Analytics Foods Robotics Capital Energy Textiles Pharma Media Foundry Freight "
    "Software Mining Ceramics Optics Insurance Partners Aviation Marine Studios"
)
_SUFFIX = ("Ltd", "Inc", "GmbH", "SA", "LLC", "Group", "Holdings", "AG")
_INDUSTRIES = ("logistics", "finance", "retail", "manufacturing", "healthcare", "media", "energy")
_COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "CA", "IN", "BR", "JP", "NL")
_STATUSES = ("paid", "paid", "paid", "paid", "paid", "pending", "refunded", "cancelled")


def _date(rng: random.Random, first_year: int) -> str:
    year = rng.randint(first_year, 2025)
    month = rng.randint(1, 6 if year == 2025 else 12)
    day, hour, minute = rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59)
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:00"


def seed_database(conn: sqlite3.Connection, seed: int) -> None:
    """Create the common schema in ``conn`` and fill it deterministically from ``seed``."""
    rng = random.Random(f"safety-eval-agent-db:{seed}")
    conn.executescript(SCHEMA_SQL)
    conn.execute("SAVEPOINT seed_data")
    companies = []
    for company_id in range(1, COMPANY_COUNT + 1):
        adj, noun = rng.choice(_ADJ), rng.choice(_NOUN)
        name = f"{adj} {noun} {rng.choice(_SUFFIX)}"
        domain = f"{adj.lower()}-{noun.lower()}{company_id}.com"
        area, prefix = rng.randint(1, 99), rng.randint(100, 999)
        phone = f"{area} {prefix} {rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        companies.append(
            (
                company_id,
                name,
                domain,
                rng.choice(_INDUSTRIES),
                rng.choice(_COUNTRIES),
                phone,
                _date(rng, 2015),
            )
        )
    conn.executemany("INSERT INTO companies VALUES (?, ?, ?, ?, ?, ?, ?)", companies)
    customers = []
    for customer_id in range(1, CUSTOMER_COUNT + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        company = companies[rng.randrange(COMPANY_COUNT)]
        email = f"{first.lower()}.{last.lower()}.{customer_id}@{company[2]}"
        customers.append(
            (
                customer_id,
                company[0],
                first,
                last,
                email,
                rng.choice(_TITLES),
                rng.choice(_COUNTRIES),
                0,
                _date(rng, 2018),
            )
        )
    conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", customers)
    orders = []
    for order_id in range(1, ORDER_COUNT + 1):
        status = "pending" if order_id % 17 == 0 else rng.choice(_STATUSES)
        orders.append(
            (
                order_id,
                rng.randint(1, CUSTOMER_COUNT),
                rng.randint(1_500, 2_500_000),
                "USD",
                status,
                _date(rng, 2023),
            )
        )
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", orders)
    conn.execute("RELEASE seed_data")
