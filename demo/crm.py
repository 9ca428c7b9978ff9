"""The demo's CRM: a `crm` schema in the warehouse, shaped like a real CRM export.

What a real CRM holds and target-recotap must cope with: websites as URLs and in mixed case,
NULLs, custom-field columns, one company entered twice under two spellings of its domain, rows
that cannot be sent (no website, no name, a bad e-mail, a contact without e-mail), and an
activity type Recotap does not take. meltano.yml's tap-postgres stream maps rename the tables
and columns to target-recotap's streams and fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

SCHEMA = """
drop schema if exists crm cascade;
create schema crm;
create table crm.accounts (
    crm_account_id text primary key,
    account_name text,
    website text,
    industry text,            -- Recotap custom field INDUSTRY_C
    annual_revenue numeric,   -- Recotap custom field ANNUAL_REVENUE_C
    owner_name text,          -- Recotap custom field ACCOUNT_OWNER_C
    updated_at timestamptz not null default now()
);
create table crm.deals (
    crm_deal_id text primary key,
    deal_name text,
    crm_account_id text,
    account_website text,     -- the account's website, as CRM deal exports carry it
    amount numeric,
    stage text,
    pipeline text,
    close_date date,
    owner_email text
);
create table crm.sales_activities (
    crm_activity_id text primary key,
    activity_type text,
    occurred_at timestamptz,
    account_website text,
    owner_email text,
    contact_email text,
    contact_name text,
    subject text
);
-- Recotap accounts a RevOps user matched to CRM records (pushed as external_id_mappings).
create table crm.account_matches (
    domain text primary key,
    crm_account_id text not null
);
"""

# (crm_account_id, account_name, website, industry, annual_revenue, owner_name)
# fmt: off
ACCOUNTS: list[tuple[str, str | None, str | None, str | None, int | None, str | None]] = [
    ("CRM-001", "Northwind Analytics", "https://www.northwind-analytics.com/about", "Software", 1200000, "Ana Ruiz"),  # noqa: E501
    ("CRM-002", "Globex Corporation", "Globex.IO", "Manufacturing", 5400000, "Ben Okafor"),
    ("CRM-003", "Initech", "http://initech.dev", "Finance", None, "Chloe Martin"),
    ("CRM-004", "Umbrella Health", "www.umbrella-health.com", "Healthcare", 830000, None),
    ("CRM-005", "Hooli", "HOOLI.COM", "Software", 98000000, "Dev Patel"),
    ("CRM-006", "Stark Logistics", "https://stark-logistics.co.uk/", None, None, None),
    # Known to Recotap already (with an industry): a NULL here must not clear it there.
    ("CRM-007", "Vandelay Industries", "vandelay.com", None, None, "Emma Larsen"),
    # The same company as CRM-003, entered again: one Recotap account, the later row wins.
    ("CRM-008", "Initech (EMEA)", "INITECH.dev/contact", None, 2100000, "Farid Haddad"),
    # Cannot be sent: no website, and no name.
    ("CRM-009", "No Website Ltd", None, "Retail", 50000, None),
    ("CRM-010", None, "nameless.example.com", None, None, None),
    *[
        (
            f"CRM-{100 + n}",
            f"Brightwave {n:02d}",
            f"brightwave-{n:02d}.com",
            ("Software", "Finance", "Retail", "Education")[n % 4],
            100000 * (n + 1) if n % 3 else None,
            ("Ana Ruiz", "Ben Okafor", None)[n % 3],
        )
        for n in range(40)
    ],
]
# fmt: on

# Accounts Recotap knows before the first push (its own discovery, from intent signals).
KNOWN_TO_RECOTAP = [
    {"domain": "vandelay.com", "name": "Vandelay", "customFields": {"INDUSTRY_C": "Retail"}},
]

# (crm_deal_id, deal_name, crm_account_id, account_website, amount, stage, pipeline, close_date,
#  owner_email)
# fmt: off
DEALS = [
    ("D-001", "Northwind expansion", "CRM-001", "northwind-analytics.com", 48000, "Negotiation", "New Business", "2026-12-15", "ana.ruiz@example.com"),  # noqa: E501
    ("D-002", "Globex renewal", "CRM-002", "globex.io", 120000, "Closed Won", "Renewals", "2026-10-01", "ben.okafor@example.com"),  # noqa: E501
    ("D-003", "Hooli pilot", "CRM-005", "hooli.com", 15000, "Discovery", "New Business", None, "dev.patel@example.com"),  # noqa: E501
    ("D-004", "Umbrella upsell", "CRM-004", "umbrella-health.com", None, "Qualification", "Expansion", None, None),  # noqa: E501
    # Cannot be sent: the owner's e-mail is not an e-mail.
    ("D-005", "Stark logistics pilot", "CRM-006", "stark-logistics.co.uk", 9000, "Discovery", "New Business", None, "stark owner"),  # noqa: E501
]
# fmt: on

# (crm_activity_id, type, occurred_at, account_website, owner_email, contact_email, contact
#  name, subject)
# fmt: off
ACTIVITIES = [
    ("A-001", "call", "2026-11-20T10:00:00Z", "https://northwind-analytics.com", "ana.ruiz@example.com", "jo.doe@northwind-analytics.com", "Jo Doe", "Discovery call"),  # noqa: E501
    ("A-002", "email", "2026-11-21T09:30:00Z", "globex.io", "ben.okafor@example.com", "ceo@globex.io", "Hank Scorpio", "Renewal terms"),  # noqa: E501
    ("A-003", "email", "2026-11-22T14:00:00Z", "HOOLI.COM", "dev.patel@example.com", "gavin@hooli.com", None, "Pilot kick-off"),  # noqa: E501
    # Recotap takes calls and e-mails only: a meeting is skipped by the API, not an error.
    ("A-004", "meeting", "2026-11-23T16:00:00Z", "initech.dev", "chloe.martin@example.com", "bill@initech.dev", "Bill Lumbergh", "Quarterly review"),  # noqa: E501
    # Cannot be sent: the contact has no e-mail.
    ("A-005", "call", "2026-11-24T11:00:00Z", "umbrella-health.com", "ana.ruiz@example.com", None, "Alice Abernathy", "Follow-up"),  # noqa: E501
]
# fmt: on


def seed(db: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create the `crm` schema afresh with the rows above."""
    db.execute(SCHEMA)
    with db.cursor() as cursor:
        cursor.executemany(
            "insert into crm.accounts (crm_account_id, account_name, website, industry, "
            "annual_revenue, owner_name) values (%s, %s, %s, %s, %s, %s)",
            ACCOUNTS,
        )
        cursor.executemany(
            "insert into crm.deals values (%s, %s, %s, %s, %s, %s, %s, %s, %s)", DEALS
        )
        cursor.executemany(
            "insert into crm.sales_activities values (%s, %s, %s, %s, %s, %s, %s, %s)",
            ACTIVITIES,
        )


def second_round(db: psycopg.Connection[tuple[object, ...]], matches: int = 20) -> None:
    """A day later in the CRM: a rename, a new account, a deal won, a new call, and RevOps
    matching `matches` of Recotap's unmapped accounts (read from the warehouse's
    `recotap.unmapped_accounts`) to new CRM records."""
    db.execute(
        "update crm.accounts set account_name = 'Globex Corp.', updated_at = now() "
        "where crm_account_id = 'CRM-002'"
    )
    db.execute(
        "insert into crm.accounts (crm_account_id, account_name, website, industry) "
        "values ('CRM-011', 'Massive Dynamic', 'https://MassiveDynamic.com', 'Software')"
    )
    db.execute("update crm.deals set stage = 'Closed Won' where crm_deal_id = 'D-001'")
    db.execute(
        "insert into crm.sales_activities values ('A-006', 'call', '2026-11-25T15:00:00Z', "
        "'massivedynamic.com', 'dev.patel@example.com', 'nina@massivedynamic.com', "
        "'Nina Sharp', 'Intro call')"
    )
    db.execute(
        "insert into crm.account_matches (domain, crm_account_id) "
        "select domain, 'CRM-M-' || lpad(row_number() over (order by domain)::text, 3, '0') "
        "from recotap.unmapped_accounts order by domain limit %s",
        (matches,),
    )
