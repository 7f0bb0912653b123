"""Writes docs/fares.md, examples.jsonl and questions.jsonl for a fictional island ferry operator.

Examples answer fare questions for the first six routes in a fixed JSON shape; the held-out
questions ask about the other six, whose fares only the documents hold. Run: python make_dataset.py
"""

import json
import random

ROUTES = [  # (from, to, minutes, adult fare EUR, car fare EUR, booking required)
    ("Harnsby", "Lille Tor", 25, 6.40, 21.00, False), ("Harnsby", "Skarvøy", 50, 9.80, 34.50, True),
    ("Lille Tor", "Skarvøy", 30, 7.10, 24.00, False), ("Kelmund", "Ravnsholm", 40, 8.20, 29.50, True),
    ("Kelmund", "Yttre Gås", 70, 12.30, 41.00, True), ("Ravnsholm", "Yttre Gås", 35, 7.70, 26.50, False),
    ("Harnsby", "Kelmund", 95, 15.60, 52.00, True), ("Skarvøy", "Brekka", 20, 5.30, 18.50, False),
    ("Brekka", "Ulvøy", 45, 8.90, 31.50, True), ("Ulvøy", "Tindholm", 60, 11.40, 38.50, True),
    ("Tindholm", "Lille Tor", 85, 14.20, 47.50, True), ("Yttre Gås", "Brekka", 55, 10.60, 36.00, False),
]
CHILD_SHARE = 0.5  # children 4–15 pay half the adult fare; under 4 travel free


def fare(route, passenger: str) -> float:
    adult, car = route[3], route[4]
    return {"adult": adult, "child": round(adult * CHILD_SHARE, 2), "car": car}[passenger]


def docs() -> str:
    rows = "\n".join(f"| {a} – {b} | {m} min | {ad:.2f} | {ad * CHILD_SHARE:.2f} | {car:.2f} | {'yes' if book else 'no'} |"
                     for a, b, m, ad, car, book in ROUTES)
    return f"""# Skerryline fares and booking, summer timetable

Skerryline runs small car ferries between the outer islands. Fares are per single crossing in euro.
Children aged 4 to 15 pay half the adult fare; children under 4 travel free. A car fare includes
the driver. Routes marked "booking required" carry fewer than ten cars and must be booked at least
two hours before departure on the Skerryline app or at a harbour kiosk; other routes sell tickets
on board.

| route | crossing | adult | child | car with driver | booking required |
| --- | --- | --- | --- | --- | --- |
{rows}

Bicycles travel free on every route. Dogs travel free but must stay on the open deck.
"""


ASK = {"adult": ["How much is an adult ticket from {a} to {b}?", "Adult single {a} to {b}, what does it cost?",
                 "What do I pay to go from {a} to {b} as a grown-up?"],
       "child": ["What's the fare for my 9-year-old from {a} to {b}?", "Child ticket {a} → {b}?",
                 "How much does a child pay between {a} and {b}?"],
       "car": ["Taking the car from {a} to {b}, how much?", "Car plus driver {a} to {b}: price?",
               "What does it cost to bring a car from {a} to {b}?"]}


def pair(rng: random.Random, route) -> tuple[str, str]:
    passenger = rng.choice(list(ASK))
    a, b = route[:2] if rng.random() < 0.5 else route[1::-1]
    answer = {"from": a, "to": b, "passenger": passenger, "fare_eur": fare(route, passenger),
              "booking_required": route[5]}
    return rng.choice(ASK[passenger]).format(a=a, b=b), json.dumps(answer, ensure_ascii=False)


def main() -> None:
    rng = random.Random(2611)
    with open("docs/fares.md", "w") as f:
        f.write(docs())
    examples = {}
    while len(examples) < 60:  # distinct questions only
        q, a = pair(rng, rng.choice(ROUTES[:6]))
        examples[q] = a
    with open("examples.jsonl", "w") as f:
        for q, a in examples.items():
            f.write(json.dumps({"input": q, "output": a}, ensure_ascii=False) + "\n")
    with open("questions.jsonl", "w") as f:
        for i in range(12):
            q, a = pair(rng, ROUTES[6 + i % 6])
            f.write(json.dumps({"id": f"f{i + 1}", "question": q, "reference": a}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
