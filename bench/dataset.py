"""The benchmark's rows, as PostgreSQL COPY text, deterministic from a seed.

Rows come in batches of contacts with everything hanging from them (attribute values,
conversations with their messages, notes with their revisions), so a batch can be
written while the next one is generated. Ids are assigned here, in order, from 1: the
generator loads into empty tables and moves the identity sequences past them afterwards.

The columns the schema's triggers maintain are computed here the way the triggers
compute them (contacts.search_text; conversations.priority and routed_team_id);
bench/generate.py proves it against the triggers themselves after the load.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

# Every timestamp lies before this instant, so that the same seed gives the same data.
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
_ANCHOR_S = int(ANCHOR.timestamp())
_DAY = 86_400
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_HOUR = 3_600

TABLES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "organization_id", "id", "network", "network_user_id", "handle", "name", "avatar_url",
        "validation_status", "crm_record_id", "validated_at", "last_lookup_at", "is_vip",
        "vip_group_id", "search_text", "created_at", "updated_at",
    ),
    "contact_attribute_values": (
        "organization_id", "contact_id", "definition_id", "value", "updated_at", "updated_by",
    ),
    "conversations": (
        "organization_id", "id", "contact_id", "network", "status", "subject", "team_id",
        "routed_team_id", "priority", "created_at", "last_message_at",
    ),
    "messages": (
        "organization_id", "id", "conversation_id", "direction", "author_name", "body", "sent_at",
    ),
    "notes": (
        "organization_id", "id", "contact_id", "conversation_id", "body", "author_id",
        "created_at", "updated_at", "updated_by", "version", "deleted_at", "deleted_by",
    ),
    "note_revisions": ("organization_id", "id", "note_id", "body", "edited_at", "edited_by"),
}  # fmt: skip

NULL = "\\N"

NETWORKS = ("X", "INSTAGRAM", "FACEBOOK", "LINKEDIN", "TIKTOK", "YOUTUBE")
_NETWORK_WEIGHTS = (30, 25, 20, 8, 12, 5)

# Only the first letter of a name is upper-case, and it is ASCII: PostgreSQL's lower()
# and Python's agree on every such string whatever the database's locale.
FIRST_NAMES = (
    "Ada",
    "Adrien",
    "Aiko",
    "Amara",
    "Ana",
    "Anders",
    "Bruno",
    "Camille",
    "Chiara",
    "Dmitri",
    "Elif",
    "Emma",
    "Farah",
    "Felipe",
    "Greta",
    "Gustav",
    "Hana",
    "Hugo",
    "Ines",
    "Isaac",
    "Jonas",
    "Julia",
    "Kaito",
    "Kofi",
    "Lena",
    "Liam",
    "Lucía",
    "Mateo",
    "Maya",
    "Mei",
    "Nadia",
    "Noah",
    "Omar",
    "Oskar",
    "Priya",
    "Quentin",
    "Rafael",
    "Rosa",
    "Sara",
    "Sven",
    "Tomás",
    "Uma",
    "Valentina",
    "Viktor",
    "Wen",
    "Ximena",
    "Yara",
    "Yusuf",
    "Zoé",
    "Zeynep",
)
LAST_NAMES = (
    "Abara", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito",
    "Jansen", "Khan", "Kowalski", "Lovelace", "Moreau", "Müller", "Nakamura", "Novak",
    "Okafor", "Patel", "Pereira", "Quinn", "Romano", "Rossi", "Said", "Sato", "Schmidt",
    "Silva", "Tanaka", "Torres", "Ueda", "Van Dijk", "Vargas", "Weber", "Wójcik", "Xu",
    "Yılmaz", "Young", "Zhang", "Zimmermann", "Ivanov",
)  # fmt: skip
_CITIES = ("Lisbon", "Berlin", "Osaka", "Montréal", "Lagos", "São Paulo", "Austin", "Pune")
_BIOS = (
    "Coffee lover ☕",
    "Runner and reader",
    "Builds furniture on weekends",
    "Photographer. Cat person.",
    "Small business owner",
    "Gamer, streamer, tea drinker",
)
_SUBJECTS = (
    "Order never arrived",
    "Refund request",
    "Question about pricing",
    "Account locked",
    "Loved the new release!",
    "Wrong size delivered",
    "Invoice missing",
    None,
    None,
)
_INBOUND = (
    "Hi, my order #{n} still hasn't arrived.",
    "Can you help me with my account?",
    "Thanks for the quick reply!",
    "Is there any update on this?",
    "I was charged twice for order {n} — can you check?",
    "Where can I find the invoice for {n}?",
    "The app crashes when I open my basket 😕",
)
_OUTBOUND = (
    "Sorry about that! Let me look into it.",
    "Could you send us your order number?",
    "We've issued a refund for order {n}, it should arrive in 3–5 days.",
    "Happy to help!",
    "I've passed this on to our billing team.",
)
_NOTE_SENTENCES = (
    "Prefers to be contacted in the morning.",
    "Long-time customer, very patient.",
    "Escalated to billing — waiting for their answer.",
    "Speaks French and English. Écrit souvent tard le soir.",
    "Asked not to be offered the newsletter again 🙏",
    "Potential influencer with a large following.",
    "Had two late deliveries this year; offer express shipping.",
    "Confirmed the address by DM.",
    "Called back after the outage, satisfied with the answer.",
    "Wants to be told when the product is back in stock.",
)
_LANGUAGES = ("English", "French", "German", "Spanish", "Japanese", "Portuguese")
_TIERS = ("Bronze", "Silver", "Gold", "Platinum")
_MAIL_DOMAINS = ("mail.example", "post.example", "inbox.example", "webmail.example")
_COUNTRY_CODES = ("1", "33", "44", "49", "55", "81", "234", "351")

# (key, label, kind, type, options, editable, position, archived); the COMMON ones
# (email, phone, url) come with every organisation.
DEFINITIONS: tuple[tuple[str, str, str, str, tuple[str, ...], bool, int, bool], ...] = (
    ("crm_customer_id", "Customer ID", "CRM", "TEXT", (), False, 10, False),
    ("crm_tier", "Tier", "CRM", "SELECT", _TIERS, False, 11, False),
    ("crm_account_manager", "Account manager", "CRM", "EMAIL", (), True, 12, False),
    ("bio", "Bio", "CUSTOM", "TEXT", (), True, 20, False),
    ("location", "Location", "CUSTOM", "TEXT", (), True, 21, False),
    ("language", "Language", "CUSTOM", "SELECT", _LANGUAGES, True, 22, False),
    ("followers", "Followers", "CUSTOM", "NUMBER", (), True, 23, False),
    ("birthday", "Birthday", "CUSTOM", "DATE", (), True, 24, False),
    ("newsletter", "Newsletter opt-in", "CUSTOM", "BOOLEAN", (), True, 25, False),
    ("legacy_segment", "Segment (old)", "CUSTOM", "SELECT", ("A", "B"), True, 26, True),
)


def _expanded(weights: Sequence[tuple[T, int]]) -> list[T]:
    """A list in which rng.choice picks each value with its weight (faster than choices)."""
    return [value for value, weight in weights for _ in range(weight)]


def ascii_fold(text: str) -> str:
    """`text` without accents, lower-case ASCII letters and digits only (for handles)."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ı", "i"))
    return "".join(c for c in decomposed.encode("ascii", "ignore").decode().lower() if c.isalnum())


def escape(text: str) -> str:
    """A string as a COPY text field."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Clock:
    """Epoch seconds as timestamptz text, with cached day and time-of-day parts (the
    generator writes tens of millions of timestamps)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._times = [
            f"{h:02}:{m:02}:{s:02}+00" for h in range(24) for m in range(60) for s in range(60)
        ]

    def text(self, seconds: int) -> str:
        day, second = divmod(seconds, _DAY)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = f"{date.fromordinal(_EPOCH_DAY + day).isoformat()} "
        return prefix + self._times[second]


@dataclass(frozen=True, slots=True)
class Organisation:
    """An organisation's reference rows, created before the bulk load."""

    id: int
    agent_ids: tuple[int, ...]
    agent_names: tuple[str, ...]
    team_ids: tuple[int, ...]
    vip_groups: tuple[tuple[int, int, int | None], ...]  # (id, priority, team id)
    definitions: dict[str, int]  # key -> id
    vip_rate: float  # the share of contacts that are VIPs


@dataclass(slots=True)
class Counters:
    """The next id of each table with an identity; shared by every organisation."""

    contact: int = 1
    conversation: int = 1
    message: int = 1
    note: int = 1
    revision: int = 1


@dataclass(slots=True)
class Batch:
    lines: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in TABLES})

    def encoded(self) -> dict[str, bytes]:
        return {table: "".join(rows).encode() for table, rows in self.lines.items()}

    def count(self, table: str) -> int:
        return len(self.lines[table])


class Dataset:
    """Generates the contacts of one organisation, batch after batch, in order."""

    def __init__(self, org: Organisation, contacts: int, *, seed: int, counters: Counters) -> None:
        self.org = org
        self.contacts = contacts
        self.ids = counters
        self.rng = random.Random(f"{seed}:{org.id}")
        self.clock = Clock()
        self.done = 0
        rng = self.rng
        self._networks = _expanded(list(zip(NETWORKS, _NETWORK_WEIGHTS, strict=True)))
        self._conversation_counts = _expanded([(0, 10), (1, 25), (2, 30), (3, 20), (4, 10), (5, 5)])
        self._note_counts = _expanded([(0, 30), (1, 25), (2, 20), (3, 15), (4, 10)])
        self._statuses = _expanded([("OPEN", 25), ("PENDING", 15), ("CLOSED", 60)])
        groups: list[tuple[tuple[int, int, int | None] | None, int]] = [
            (group, 3) for group in org.vip_groups
        ]
        self._vip_groups = _expanded([*groups, (None, 2)])
        self._teams: list[int | None] = [*org.team_ids, None]
        sentences = _NOTE_SENTENCES
        bodies = [" ".join(rng.sample(sentences, rng.randint(1, 3))) for _ in range(400)]
        # A few long, multi-line notes, close to the 2,000-character limit.
        bodies += ["\n".join(rng.choices(sentences, k=32))[:1990] for _ in range(8)]
        self._note_bodies = [escape(b) for b in bodies]
        self._inbound = [escape(t.format(n=rng.randint(10_000, 99_999))) for t in _INBOUND * 20]
        self._outbound = [escape(t.format(n=rng.randint(10_000, 99_999))) for t in _OUTBOUND * 20]
        self._folded = {name: ascii_fold(name) for name in FIRST_NAMES + LAST_NAMES}

    def batch(self, size: int) -> Batch:
        """The next `size` contacts (fewer at the end) with their rows."""
        out = Batch()
        for _ in range(min(size, self.contacts - self.done)):
            self._contact(out)
            self.done += 1
        return out

    def _contact(self, out: Batch) -> None:
        rng, org, ids, ts = self.rng, self.org, self.ids, self.clock.text
        oid = str(org.id)
        contact_id = ids.contact
        ids.contact += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        handle = f"{self._folded[first]}{rng.choice(('', '_', '.'))}{self._folded[last]}"
        handle = f"{handle}{contact_id % 100_000}"
        network = rng.choice(self._networks)
        created = _ANCHOR_S - rng.randint(2 * _DAY, 3 * 365 * _DAY)
        validated = rng.random() < 0.6
        is_vip = rng.random() < org.vip_rate
        vip_group = rng.choice(self._vip_groups) if is_vip else None

        values = self._values(handle, contact_id, validated)
        # contact_search_text(): name, handle, then the email and phone values by key.
        parts = [name, handle]
        searched = [values[k] for k in ("email", "phone") if k in values]
        if searched:
            parts.append(" ".join(searched))
        search_text = " ".join(parts).lower()
        defs = org.definitions
        for key, value in values.items():
            set_at = rng.randint(created, _ANCHOR_S)
            by = (
                str(rng.choice(org.agent_ids))
                if key in _AGENT_KEYS and rng.random() < 0.3
                else NULL
            )
            out.lines["contact_attribute_values"].append(
                f"{oid}\t{contact_id}\t{defs[key]}\t{escape(value)}\t{ts(set_at)}\t{by}\n"
            )
        validated_at = created + rng.randint(_HOUR, 30 * _DAY) if validated else None
        lookup = min(_ANCHOR_S, validated_at + rng.randint(0, 200 * _DAY)) if validated_at else None
        out.lines["contacts"].append(
            "\t".join(
                (
                    oid,
                    str(contact_id),
                    network,
                    str(10**9 + contact_id),
                    handle,
                    name,
                    f"https://avatars.example/{handle}.jpg" if rng.random() < 0.8 else NULL,
                    "VALIDATED" if validated else "NOT_VALIDATED",
                    f"CRM-{contact_id:08d}" if validated else NULL,
                    ts(validated_at) if validated_at else NULL,
                    ts(lookup) if lookup else NULL,
                    "t" if is_vip else "f",
                    str(vip_group[0]) if vip_group else NULL,
                    escape(search_text),
                    ts(created),
                    ts(max(created, lookup or created)),
                )
            )
            + "\n"
        )
        # As the conversations_routing trigger computes them.
        priority = (1 + (vip_group[1] if vip_group else 0)) if is_vip else 0
        vip_team = vip_group[2] if vip_group else None
        for _ in range(rng.choice(self._conversation_counts)):
            self._conversation(out, contact_id, name, network, created, priority, vip_team)
        notes = rng.choice(self._note_counts)
        if rng.random() < 0.01:
            notes = rng.randint(20, 60)  # the busy contacts whose Notes tab pages
        for _ in range(notes):
            self._note(out, contact_id, None, rng.randint(created, _ANCHOR_S - _HOUR))

    def _values(self, handle: str, contact_id: int, validated: bool) -> dict[str, str]:
        rng = self.rng
        values: dict[str, str] = {}
        if rng.random() < 0.9:
            values["email"] = f"{handle}@{rng.choice(_MAIL_DOMAINS)}"
        if rng.random() < 0.5:
            values["phone"] = f"+{rng.choice(_COUNTRY_CODES)}{rng.randint(10**8, 10**9 - 1)}"
        if rng.random() < 0.2:
            values["url"] = f"https://{handle}.example.com/"
        if validated:
            values["crm_customer_id"] = f"CRM-{contact_id:08d}"
            values["crm_tier"] = rng.choice(_TIERS)
            if rng.random() < 0.2:
                values["crm_account_manager"] = f"manager{rng.randint(1, 40)}@crm.example"
        if rng.random() < 0.6:
            values["language"] = rng.choice(_LANGUAGES)
        if rng.random() < 0.4:
            values["location"] = rng.choice(_CITIES)
        if rng.random() < 0.4:
            values["followers"] = str(int(rng.paretovariate(1.2) * 50))
        if rng.random() < 0.3:
            values["bio"] = rng.choice(_BIOS)
        if rng.random() < 0.1:
            born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 58 * 365))
            values["birthday"] = born.isoformat()
        if rng.random() < 0.3:
            values["newsletter"] = rng.choice(("true", "false"))
        if rng.random() < 0.05:
            values["legacy_segment"] = rng.choice(("A", "B"))
        return values

    def _conversation(
        self,
        out: Batch,
        contact_id: int,
        contact_name: str,
        network: str,
        contact_created: int,
        priority: int,
        vip_team: int | None,
    ) -> None:
        rng, org, ids, ts = self.rng, self.org, self.ids, self.clock.text
        conversation_id = ids.conversation
        ids.conversation += 1
        status = rng.choice(self._statuses)
        # Open and pending conversations are recent; closed ones spread over the past.
        earliest = max(
            contact_created, _ANCHOR_S - (14 * _DAY if status != "CLOSED" else 365 * _DAY)
        )
        started = rng.randint(earliest, _ANCHOR_S - _DAY)
        sent = started
        oid = str(org.id)
        for m in range(rng.randint(1, 3)):
            if m:
                sent += rng.randint(60, 6 * _HOUR)
            inbound = m % 2 == 0
            out.lines["messages"].append(
                f"{oid}\t{ids.message}\t{conversation_id}\t"
                f"{'INBOUND' if inbound else 'OUTBOUND'}\t"
                f"{contact_name if inbound else rng.choice(org.agent_names)}\t"
                f"{rng.choice(self._inbound if inbound else self._outbound)}\t{ts(sent)}\n"
            )
            ids.message += 1
        team = rng.choice(self._teams)
        routed = vip_team if vip_team is not None else team
        subject = rng.choice(_SUBJECTS)
        out.lines["conversations"].append(
            f"{oid}\t{conversation_id}\t{contact_id}\t{network}\t{status}\t"
            f"{escape(subject) if subject else NULL}\t{team or NULL}\t{routed or NULL}\t"
            f"{priority}\t{ts(started)}\t{ts(sent)}\n"
        )
        if rng.random() < 0.1:
            self._note(out, None, conversation_id, rng.randint(started, sent))

    def _note(
        self, out: Batch, contact_id: int | None, conversation_id: int | None, created: int
    ) -> None:
        rng, org, ids, ts = self.rng, self.org, self.ids, self.clock.text
        note_id = ids.note
        ids.note += 1
        body = rng.choice(self._note_bodies)
        updated, updated_by, version = created, NULL, 1
        if rng.random() < 0.04:
            # One edit, with the revision it leaves (the body as it was before).
            updated = created + rng.randint(60, 30 * _DAY)
            updated_by, version = str(rng.choice(org.agent_ids)), 2
            out.lines["note_revisions"].append(
                f"{org.id}\t{ids.revision}\t{note_id}\t{body}\t{ts(updated)}\t{updated_by}\n"
            )
            ids.revision += 1
            body = rng.choice(self._note_bodies)
        deleted_at = deleted_by = NULL
        if rng.random() < 0.02:
            deleted_at = ts(updated + rng.randint(60, 10 * _DAY))
            deleted_by = str(rng.choice(org.agent_ids))
        out.lines["notes"].append(
            f"{org.id}\t{note_id}\t{contact_id or NULL}\t{conversation_id or NULL}\t{body}\t"
            f"{rng.choice(org.agent_ids)}\t{ts(created)}\t{ts(updated)}\t{updated_by}\t"
            f"{version}\t{deleted_at}\t{deleted_by}\n"
        )


# Values agents fill in (the others come from imports and the CRM, with no agent).
_AGENT_KEYS = frozenset(
    {"bio", "location", "language", "followers", "birthday", "newsletter", "crm_account_manager"}
)
