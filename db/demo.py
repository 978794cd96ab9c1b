"""Demo data: an organisation with teams, VIP groups, attributes, ~50 contacts, their
conversations, messages and notes, and two agents (one admin). Deterministic."""

from __future__ import annotations

import random
import unicodedata
from datetime import UTC, datetime, timedelta

import asyncpg

from db.agents import Agent, create_agent
from db.organizations import Organization, create_organization
from db.tenancy import organization_transaction

NETWORKS = ("X", "INSTAGRAM", "FACEBOOK", "LINKEDIN", "TIKTOK", "YOUTUBE")
FIRST = (
    "Ada",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elif",
    "Farah",
    "Gustav",
    "Hana",
    "Ines",
    "Jonas",
    "Kaito",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tomás",
    "Uma",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoé",
)
LAST = (
    "Lovelace",
    "Costa",
    "Romano",
    "Ivanov",
    "Yılmaz",
    "Haddad",
    "Berg",
    "Sato",
    "Moreau",
    "Weber",
    "Tanaka",
    "Novak",
    "García",
    "Khan",
    "Said",
    "Patel",
    "Dubois",
    "Silva",
)
SUBJECTS = (
    "Order never arrived",
    "Refund request",
    "Question about pricing",
    "Account locked",
    "Loved the new release!",
    "Wrong size delivered",
    None,
)
INBOUND = (
    "Hi, my order #{n} still hasn't arrived.",
    "Can you help me with my account?",
    "Thanks for the quick reply!",
    "Is there any update on this?",
    "I was charged twice — can you check?",
    "Where can I find the invoice?",
)
OUTBOUND = (
    "Sorry about that! Let me look into it.",
    "Could you send us your order number?",
    "We've issued a refund, it should arrive in 3–5 days.",
    "Happy to help!",
)
NOTES = (
    "Prefers to be contacted in the morning.",
    "Long-time customer, very patient.",
    "Escalated to billing on the 3rd — waiting for their answer.",
    "Speaks French and English. Écrit souvent tard le soir.",
    "Asked not to be offered the newsletter again 🙏",
    "Potential influencer: ~40k followers.",
)

# (key, label, kind, type, options, pattern, editable, description)
DEFINITIONS: tuple[tuple[str, str, str, str, list[str], str | None, bool, str | None], ...] = (
    (
        "crm_customer_id",
        "Customer ID",
        "CRM",
        "TEXT",
        [],
        None,
        False,
        "The contact's id in the CRM.",
    ),
    (
        "crm_tier",
        "Tier",
        "CRM",
        "SELECT",
        ["Bronze", "Silver", "Gold"],
        None,
        False,
        "Loyalty tier computed by the CRM.",
    ),
    (
        "crm_account_manager",
        "Account manager",
        "CRM",
        "EMAIL",
        [],
        None,
        True,
        "Editable here; changes are sent to the CRM.",
    ),
    ("bio", "Bio", "CUSTOM", "TEXT", [], None, True, None),
    ("location", "Location", "CUSTOM", "TEXT", [], None, True, None),
    (
        "language",
        "Language",
        "CUSTOM",
        "SELECT",
        ["English", "French", "German", "Spanish", "Japanese"],
        None,
        True,
        None,
    ),
    ("followers", "Followers", "CUSTOM", "NUMBER", [], None, True, None),
    ("birthday", "Birthday", "CUSTOM", "DATE", [], None, True, None),
    ("newsletter", "Newsletter opt-in", "CUSTOM", "BOOLEAN", [], None, True, None),
)


async def seed_demo(
    conn: asyncpg.Connection, organization_name: str = "Demo", *, seed: int = 7
) -> tuple[Organization, list[Agent]]:
    """Creates the organisation and its demo data; returns it and its two agents (an
    admin, then an agent). Raises OrganizationExists if the name is taken."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    organization = await create_organization(conn, organization_name, crm_name="Salesforce")
    org = organization.id
    async with organization_transaction(conn, org):
        admin = await create_agent(
            conn, org, name="Alex Admin", email="admin@demo.example", role="ADMIN"
        )
        agent = await create_agent(conn, org, name="Sam Agent", email="agent@demo.example")
        team_ids = [
            await conn.fetchval(
                "INSERT INTO teams (organization_id, name) VALUES ($1, $2) RETURNING id", org, name
            )
            for name in ("Support", "VIP Desk", "Billing")
        ]
        gold = await conn.fetchval(
            "INSERT INTO vip_groups (organization_id, name, priority, team_id)"
            " VALUES ($1, 'Gold', 10, $2) RETURNING id",
            org,
            team_ids[1],
        )
        silver = await conn.fetchval(
            "INSERT INTO vip_groups (organization_id, name, priority) VALUES ($1, 'Silver', 5)"
            " RETURNING id",
            org,
        )
        definition_ids: dict[str, int] = {
            row["key"]: row["id"]
            for row in await conn.fetch(
                "SELECT key, id FROM attribute_definitions WHERE organization_id = $1", org
            )
        }
        for position, (
            key,
            label,
            kind,
            type_,
            options,
            pattern,
            editable,
            description,
        ) in enumerate(DEFINITIONS, start=10):
            definition_ids[key] = await conn.fetchval(
                "INSERT INTO attribute_definitions (organization_id, key, label, kind, type,"
                " options, pattern, editable, position, description)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                org,
                key,
                label,
                kind,
                type_,
                options,
                pattern,
                editable,
                position,
                description,
            )

        for n in range(50):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            network = NETWORKS[n % len(NETWORKS)]
            # Handles are ASCII: accents come off their letters (García → garcia).
            spelled = unicodedata.normalize("NFKD", f"{first}{last}{n}".lower())
            handle = spelled.replace("ı", "i").encode("ascii", "ignore").decode()
            validated = n % 3 != 0
            vip_group = gold if n % 10 == 0 else silver if n % 10 == 5 else None
            is_vip = vip_group is not None or n % 17 == 3
            created = now - timedelta(days=rng.randint(30, 900))
            contact_id = await conn.fetchval(
                "INSERT INTO contacts (organization_id, network, network_user_id, handle, name,"
                " avatar_url, validation_status, crm_record_id, validated_at, last_lookup_at,"
                " is_vip, vip_group_id, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)"
                " RETURNING id",
                org,
                network,
                str(100000 + n),
                handle,
                f"{first} {last}",
                f"https://avatars.example/{handle}.png" if n % 4 else None,
                "VALIDATED" if validated else "NOT_VALIDATED",
                f"CRM-{10000 + n}" if validated else None,
                created + timedelta(days=1) if validated else None,
                now - timedelta(hours=rng.randint(1, 200)) if validated else None,
                is_vip,
                vip_group,
                created,
            )
            values = {
                "email": f"{handle}@mail.example",
                "bio": rng.choice(("Coffee lover ☕", "Runner and reader", "Builds furniture")),
                "language": rng.choice(DEFINITIONS[5][4]),
                "followers": str(rng.randint(10, 90000)),
            }
            if n % 2 == 0:
                values["phone"] = f"+4420{rng.randint(10000000, 99999999)}"
            if n % 5 == 0:
                values["location"] = rng.choice(("Lisbon", "Berlin", "Osaka", "Montréal"))
            if validated:
                values["crm_customer_id"] = f"CRM-{10000 + n}"
                values["crm_tier"] = rng.choice(("Bronze", "Silver", "Gold"))
            await conn.executemany(
                "INSERT INTO contact_attribute_values (organization_id, contact_id, definition_id,"
                " value, updated_at) VALUES ($1, $2, $3, $4, $5)",
                [(org, contact_id, definition_ids[k], v, created) for k, v in values.items()],
            )
            for _ in range(rng.randint(0, 3)):
                author = rng.choice((admin, agent))
                await conn.execute(
                    "INSERT INTO notes (organization_id, contact_id, body, author_id, created_at,"
                    " updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                    org,
                    contact_id,
                    rng.choice(NOTES),
                    author.id,
                    now - timedelta(hours=rng.randint(1, 2000)),
                )
            for _ in range(rng.randint(1, 3)):
                started = now - timedelta(minutes=rng.randint(10, 60 * 24 * 20))
                conversation_id = await conn.fetchval(
                    "INSERT INTO conversations (organization_id, contact_id, network, status,"
                    " subject, team_id, created_at, last_message_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
                    org,
                    contact_id,
                    network,
                    rng.choice(("OPEN", "OPEN", "PENDING", "CLOSED")),
                    rng.choice(SUBJECTS),
                    rng.choice((team_ids[0], team_ids[2], None)),
                    started,
                )
                sent = last_sent = started
                for m in range(rng.randint(1, 6)):
                    inbound = m % 2 == 0
                    await conn.execute(
                        "INSERT INTO messages (organization_id, conversation_id, direction,"
                        " author_name, body, sent_at) VALUES ($1, $2, $3, $4, $5, $6)",
                        org,
                        conversation_id,
                        "INBOUND" if inbound else "OUTBOUND",
                        f"{first} {last}" if inbound else rng.choice((admin.name, agent.name)),
                        rng.choice(INBOUND if inbound else OUTBOUND).format(n=4000 + n),
                        sent,
                    )
                    last_sent = sent
                    sent += timedelta(minutes=rng.randint(1, 300))
                await conn.execute(
                    "UPDATE conversations SET last_message_at = $3"
                    " WHERE organization_id = $1 AND id = $2",
                    org,
                    conversation_id,
                    last_sent,
                )
                if rng.random() < 0.4:
                    await conn.execute(
                        "INSERT INTO notes (organization_id, conversation_id, body, author_id)"
                        " VALUES ($1, $2, $3, $4)",
                        org,
                        conversation_id,
                        "Customer confirmed the address by DM.",
                        agent.id,
                    )
    return organization, [admin, agent]
