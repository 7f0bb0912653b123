"""Writes examples.jsonl and questions.jsonl: beekeepers' hive-inspection notes → a JSON record.

Hand-written phrasings, combined deterministically (seeded), so the file can be regenerated.
Run: python make_examples.py
"""

import json
import random

QUEEN = {"seen": ["queen seen on frame {f}", "saw her majesty on frame {f}", "marked queen spotted, frame {f}"],
         "eggs": ["no queen seen but fresh eggs", "didn't spot the queen, eggs standing upright", "queen not seen, eggs + young larvae"],
         "missing": ["no queen, no eggs", "queenless? no eggs anywhere", "no eggs or open brood, looks queenless"]}
TEMPER = {"calm": ["calm on the comb", "very gentle today", "bees quiet"],
          "defensive": ["bit runny and followy", "defensive, several stings", "testy at the entrance"]}
VARROA = ["drop {m} mites on the board over 3 days", "sugar roll {m} mites", "mite count {m}"]
ACTIONS = {"add super": ["added a super", "put another super on", "super added"],
           "feed": ["gave 2L syrup", "fed 1:1 syrup", "feeder on"],
           "treat varroa": ["started oxalic treatment", "treated for varroa", "strips in"],
           "requeen": ["ordered a new queen", "will requeen next week", "uniting with a queenright nuc"],
           "none": ["left them alone", "nothing to do", "closed up"]}
APIARIES = ["orchard", "churchyard", "allotment", "railway bank", "roof"]


def note(rng: random.Random, i: int) -> tuple[str, dict]:
    hive = f"{rng.choice(APIARIES)} {rng.randint(1, 6)}"
    queen = rng.choice(list(QUEEN))
    brood = 0 if queen == "missing" else rng.randint(2, 9)
    temper = rng.choice(list(TEMPER))
    mites = rng.choice([0, 1, 2, 3, 5, 8, 12, 20])
    action = "requeen" if queen == "missing" else ("treat varroa" if mites >= 8 else rng.choice(["add super", "feed", "none"]))
    parts = [f"{hive}:", QUEEN[queen][rng.randrange(3)].format(f=rng.randint(2, 9)),
             f"{brood} frames brood" if brood else "no brood", TEMPER[temper][rng.randrange(3)],
             rng.choice(VARROA).format(m=mites), ACTIONS[action][rng.randrange(3)]]
    head, body = parts[0], parts[1:]
    record = {"hive": hive, "queen": queen, "brood_frames": brood, "temper": temper,
              "varroa_count": mites, "action": action}
    return head + " " + ", ".join(body), record


def main() -> None:
    rng = random.Random(1307)
    notes = [note(rng, i) for i in range(100)]
    with open("examples.jsonl", "w") as f:
        for text, record in notes[:88]:
            f.write(json.dumps({"input": text, "output": json.dumps(record)}) + "\n")
    with open("questions.jsonl", "w") as f:
        for i, (text, record) in enumerate(notes[88:], 1):
            f.write(json.dumps({"id": f"h{i}", "question": text, "reference": json.dumps(record)}) + "\n")


if __name__ == "__main__":
    main()
