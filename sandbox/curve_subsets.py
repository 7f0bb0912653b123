"""Nested, stratified training subsets for learning curves, and the sizes a curve trains on.

A curve trains on the first ``n`` examples of one fixed order of the training split, so every subset
contains the smaller ones (more data is *added*, never swapped). The order is a seeded, stratified
shuffle: each step takes the next example of the stratum furthest below its share, so every prefix
keeps the split's mix of labels and output shapes (within one example per stratum) instead of a small
subset happening to hold only one kind of answer.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict

from sandbox.errors import ConfigError
from sandbox.examples import Example
from sandbox.metrics import normalize, parse_json

FIRST_SIZE = 25  # the smallest default size: below it a fine-tune says little
MIN_SIZE = 10  # fine-tuning providers (OpenAI, the local one) refuse fewer examples
LABEL_WORDS = 3  # an output this short is a label: its own stratum


def stratum(example: Example) -> str:
    """What a subset must keep the mix of: the task (system message) and the answer's shape —
    a JSON object's keys, a short label itself, or free text (by length, in powers of two words)."""
    data = parse_json(example.output)
    words = normalize(example.output).split()
    if isinstance(data, dict):
        shape = "json:" + ",".join(sorted(map(str, data)))
    elif len(words) <= LABEL_WORDS:
        shape = "label:" + " ".join(words)
    else:
        shape = f"text:{len(words).bit_length()}"
    return hashlib.sha256(f"{example.system}\x00{shape}".encode()).hexdigest()[:12]


def stratified_order(examples: list[Example], seed: int = 0) -> list[int]:
    """Indices of ``examples`` in curve order: shuffled within each stratum (seeded), then interleaved
    by largest deficit, so any prefix of length k holds about k × share of every stratum."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        groups[stratum(example)].append(i)
    rng = random.Random(seed)
    keys = sorted(groups)
    rng.shuffle(keys)  # which stratum wins a tied deficit: seeded, not alphabetical
    for key in keys:
        rng.shuffle(groups[key])
    total, taken, order = len(examples), {key: 0 for key in keys}, []
    for k in range(1, total + 1):
        key = max((key for key in keys if taken[key] < len(groups[key])),
                  key=lambda s: k * len(groups[s]) / total - taken[s])
        order.append(groups[key][taken[key]])
        taken[key] += 1
    return order


def order_key(examples: list[Example], order: list[int]) -> str:
    """A fingerprint of the training data in curve order: a changed split or order is a new curve."""
    canon = json.dumps([examples[i].messages for i in order], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def default_sizes(n_train: int) -> list[int]:
    """Powers of two times 25 below the split's size, then the whole split: 25, 50, 100, ..., n."""
    sizes, size = [], FIRST_SIZE
    while size < n_train:
        sizes.append(size)
        size *= 2
    return sizes + [n_train]


def parse_sizes(text: str | None, n_train: int) -> list[int]:
    """``"25,50,100,all"`` -> sorted distinct sizes (``all`` = the split's size); None/empty: the defaults."""
    if not text or not text.strip():
        return default_sizes(n_train)
    sizes = set()
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part == "all":
            sizes.add(n_train)
            continue
        if not part.isdigit():
            raise ConfigError(f"--sizes: {part!r} is not a number.", 'Give sizes like "25,50,100,all".')
        size = int(part)
        if size < MIN_SIZE:
            raise ConfigError(f"--sizes: {size} examples is too few to fine-tune on.",
                              f"Use sizes of at least {MIN_SIZE} (providers refuse fewer).")
        if size > n_train:
            raise ConfigError(f"--sizes: {size} is more than the {n_train} examples in the training split.",
                              f'Use sizes up to {n_train}, or "all".')
        sizes.add(size)
    return sorted(sizes)
