"""Write notebooks/data/support_tickets.csv: synthetic support tickets for notebook 03 (kimi_lab.map).

Each ticket is one or two sentences a customer of a made-up software product could have written
(billing, refunds, bugs, login trouble, feature requests, praise, account questions), with the
customer's tier (free, pro, enterprise) and the product it is about. Nothing in it names a real
person, company or email address. Seeded, standard library only: the same file on every run, so
the committed CSV is this script's output (rerun it after changing the templates, and commit both).

Usage: python scripts/make_support_tickets.py [--out notebooks/data/support_tickets.csv] [--rows 300]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "notebooks" / "data" / "support_tickets.csv"
SEED = 20260301
ROWS = 300

PRODUCTS = ["web app", "mobile app", "desktop app", "dashboard", "api"]
TIERS = {"free": 45, "pro": 38, "enterprise": 17}  # weights

# What a ticket is about (weights), each with sentences that fill {slots} from SLOTS below.
TOPICS: dict[str, tuple[int, list[str]]] = {
    "bug": (25, [
        "The {product} crashes every time I open a report with more than {big} rows.",
        "Since the last update the {feature} produces an empty file.",
        "Charts on the dashboard still show yesterday's numbers after I refresh.",
        "Uploading an image over {mb} MB fails with error {code}.",
        "In {browser} the save button does nothing and no error is shown.",
        "Dates are shown in US format although my language is set to {language}.",
        "The {product} on my {device} freezes when I switch between projects.",
        "Search finds nothing for words with accents, like café or jalapeño.",
        "Every notification arrives twice, once right away and again an hour later.",
        "The api started returning {code} for requests that worked fine yesterday.",
        "Sync stops halfway and the progress bar stays at {pct}% forever.",
        "When I paste rows from a spreadsheet every other row is dropped.",
        "Times in the exported calendar are off by one hour since the clocks changed.",
        "On small screens the sidebar covers the editor and I can't reach the close button.",
        "The total in the {month} report is {small} lower than its rows add up to.",
        "The {product} shows a blank white page after the loading spinner.",
        "Attachments I upload from my {device} show up with a size of 0 bytes.",
        "Sorting by date puts December before January.",
        "The api lets through only {pct} requests a minute although our plan allows more.",
    ]),
    "billing": (17, [
        "I was charged {amount} twice this month for the same {plan} plan.",
        "My invoice for {month} lists {seats} seats but only {fewer} of us use the {product}.",
        "My card expired and I can't find where to update it on the billing page.",
        "Why did my bill go from {small} to {amount}? Nobody here changed the plan.",
        "Our invoices need our VAT number on them, finance keeps rejecting them.",
        "I downgraded to free last week but was still billed {amount} on the {day}th.",
        "Can we switch from monthly to annual billing and keep the discount?",
        "The payment failed with \"card declined\" but my bank says nothing was attempted.",
        "Is there a way to download all of last year's invoices at once?",
        "We were billed in dollars although our account is set to euros.",
        "Our purchase order number has to appear on the next invoice.",
        "The trial ended a day early and we were charged {amount} before we had decided.",
        "The price on the pricing page is {small} a seat but we pay {amount}.",
    ]),
    "login": (15, [
        "I can't log in, it says my password is wrong although I just reset it.",
        "The password reset email never arrives, not even in spam.",
        "After I log in it sends me straight back to the login page, over and over.",
        "The two-factor codes from my authenticator app are always rejected.",
        "I got a new phone and lost my two-factor app, how do I get back into my account?",
        "Single sign-on fails for everyone in our company with \"invalid assertion\".",
        "My account is locked after too many attempts and the unlock link has expired.",
        "The {product} on my {device} logs me out every few minutes.",
        "I signed up with a mistyped email address and now I can neither log in nor change it.",
        "Logging in works on the web but the mobile app says my session is invalid.",
        "The login page in {browser} keeps loading and never shows the form.",
        "Our api keys stopped working after I changed my password.",
    ]),
    "feature_request": (15, [
        "It would be great if the {feature} could run on a schedule every morning.",
        "Please add {feature} to the {product}, it's the one thing we miss.",
        "Could reports be exported to Excel, not only to CSV?",
        "We'd love an audit log that shows who changed what and when.",
        "Any plans for a dark mode in the {product}?",
        "Can you add keyboard shortcuts for moving between tasks?",
        "We need a read-only role for clients who should only see the reports.",
        "It would help to set a default project for each team member.",
        "Please let us archive old projects in bulk instead of one by one.",
        "A calendar integration would save us a lot of copying and pasting.",
        "Could the api send a webhook when a report finishes?",
        "Please add paging to the api's export endpoint, large exports time out.",
        "Let us pin our most used dashboards to the top of the list.",
    ]),
    "refund": (10, [
        "Please refund the {amount} charge from {month}, we cancelled before the renewal date.",
        "I bought the annual plan by mistake instead of monthly, can I get the difference back?",
        "We were billed twice for {month} and I'd like the second charge refunded.",
        "The service was down most of {weekday} and we lost a day of work, is a refund possible?",
        "I cancelled within the {days}-day window but the refund hasn't reached my card yet.",
        "My refund was approved {weeks} weeks ago and I still don't see it.",
        "We never used the extra seats added in {month}, can those be refunded?",
        "I want a full refund, the {product} does not do what the sales page promised.",
    ]),
    "praise": (10, [
        "The new {feature} is fantastic, it saves me an hour every week.",
        "Your support team fixed my problem in ten minutes, thank you!",
        "The {product} has become the first thing I open every morning, great work.",
        "We moved from spreadsheets to the {product} last month and the whole team loves it.",
        "The latest update made everything noticeably faster, nice job.",
        "Clean design, sensible defaults, no nonsense. Really happy with it.",
        "Thanks for listening, the change to the {feature} is exactly what we asked for.",
        "Setting up the {product} took five minutes, easiest onboarding I've had.",
    ]),
    "account": (8, [
        "How do I transfer ownership of our workspace to a colleague?",
        "Please delete my account and all the data in it.",
        "Where can I find your security documentation for our compliance review?",
        "Is there a limit on how many projects a free account can have?",
        "Do you have a status page where we can check for outages?",
        "Can I change the name in our workspace's web address?",
        "We are moving to another tool, how do we export everything first?",
        "Do you offer discounts for schools or non-profits?",
        "How do I add a second admin to our workspace?",
    ]),
}

# A second sentence, sometimes: what else that customer would say, and what only enterprise customers say.
FOLLOW_UPS = {
    "bug": [
        "This is the third time I'm writing about it.",
        "Please fix this soon, it's blocking my work.",
        "We have a client presentation on {weekday}.",
        "I've already tried another browser and clearing the cache.",
        "Screenshots available if that helps.",
        "It started after the update on {weekday}.",
    ],
    "login": [
        "Please help, I have a deadline today.",
        "I've already tried another browser and clearing the cache.",
        "This is the second time this month.",
        "Really frustrating.",
    ],
    "billing": [
        "Please sort this out before the next invoice.",
        "Nobody has answered my last two messages.",
        "Thanks in advance.",
        "Let me know if you need the invoice number.",
    ],
    "refund": [
        "Nobody has answered my last two messages.",
        "Please confirm once it's done.",
        "Really disappointing.",
    ],
    "feature_request": [
        "We would happily pay more for it.",
        "Several people on my team have asked for this.",
        "It's the main reason we still use another tool.",
    ],
    "praise": [
        "Keep it up!",
        "Happy to tell others about you.",
        "Thanks to the whole team.",
    ],
    "account": [
        "Thanks in advance.",
        "No rush, just wondering.",
        "Let me know if you need more details.",
    ],
}
ENTERPRISE = [
    "This affects our whole team of {team} people.",
    "We need an answer before our renewal next month.",
    "Our contract promises a four-hour response time.",
]
ENTERPRISE_TOPICS = frozenset({"bug", "login", "billing", "refund"})

PHONES = ["iPhone", "Android phone", "iPad", "Android tablet"]
COMPUTERS = ["Windows laptop", "Mac", "Chromebook", "Linux desktop"]
SLOTS = {
    "feature": ["CSV export", "dark mode", "two-factor login", "shared dashboards", "webhooks", "offline mode",
                "calendar view", "bulk edit", "custom fields", "weekly summary email", "PDF export"],
    "browser": ["Firefox", "Safari", "Chrome", "Edge"],
    "language": ["German", "French", "Spanish", "Dutch", "Polish", "Portuguese"],
    "month": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "plan": ["pro", "team", "annual pro", "monthly pro"],
    "code": ["500", "502", "413", "429", "E-1042", "E-2210", "SYNC-07"],
}


def _fill(sentence: str, rng: random.Random, product: str) -> str:
    values = {name: rng.choice(options) for name, options in SLOTS.items()}
    values["device"] = rng.choice(PHONES if product == "mobile app" else COMPUTERS)
    small = rng.choice([9, 12, 15, 19, 29])
    seats = rng.randint(5, 40)
    values.update(
        product=product, big=f"{rng.choice([5, 10, 20, 50]) * 1000:,}", mb=str(rng.choice([5, 10, 20, 25])),
        pct=str(rng.randint(12, 97)), amount=f"${rng.choice([19, 29, 49, 99, 149, 290, 490]):,}",
        small=f"${small}", seats=str(seats), fewer=str(rng.randint(2, seats - 2)), day=str(rng.randint(4, 20)),
        days=str(rng.choice([14, 30])), weeks=str(rng.randint(2, 6)), team=str(rng.choice([40, 120, 300, 850])),
    )
    return sentence.format(**values)


# A sentence that names where it happens is about that product; "the {product}" is any but the api.
HINTS = {r"\bapi\b": "api", r"\bmobile app\b": "mobile app", r"\{browser\}": "web app",
         r"\b(dashboard|report)": "dashboard", r"\bsync\b": "desktop app"}


def _product(sentence: str, rng: random.Random) -> str:
    if "{product}" in sentence:
        return rng.choice([p for p in PRODUCTS if p != "api"])
    named = (p for hint, p in HINTS.items() if re.search(hint, sentence, re.IGNORECASE))
    return next(named, None) or rng.choice(PRODUCTS)


def _casual(text: str, rng: random.Random) -> str:
    """Some customers type quickly: no capital, no final full stop."""
    if rng.random() < 0.12:
        text = text[0].lower() + text[1:]
        if text.endswith(".") and not text.endswith(".."):
            text = text[:-1]
    return text


def tickets(rows: int = ROWS, seed: int = SEED) -> list[dict[str, str]]:
    rng = random.Random(seed)
    topics = list(TOPICS)
    weights = [TOPICS[t][0] for t in topics]
    seen: set[str] = set()
    out: list[dict[str, str]] = []
    while len(out) < rows:
        topic = rng.choices(topics, weights)[0]
        tier = rng.choices(list(TIERS), list(TIERS.values()))[0]
        sentence = rng.choice(TOPICS[topic][1])
        product = _product(sentence, rng)
        text = _fill(sentence, rng, product)
        if rng.random() < 0.45:
            urgent = tier == "enterprise" and topic in ENTERPRISE_TOPICS and rng.random() < 0.5
            text = f"{text} {_fill(rng.choice(ENTERPRISE if urgent else FOLLOW_UPS[topic]), rng, product)}"
        text = _casual(text, rng)
        if text in seen:
            continue
        seen.add(text)
        out.append({"ticket_id": f"T-{1001 + len(out)}", "text": text, "tier": tier, "product": product})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="the CSV to write (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=ROWS, help="how many tickets (default: %(default)s)")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["ticket_id", "text", "tier", "product"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(tickets(args.rows))
    print(f"wrote {args.rows} tickets to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
