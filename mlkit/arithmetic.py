"""Integer arithmetic as strings: question generation, token encoding and expression parsing.

Questions follow the Keras "addition RNN" example: each operand gets a random number of digits
(1 to `digits`), then random digits, so short operands are as common as long ones. Tokens are
the characters of the question; index 0 is padding ("") and 1 is unknown ("[UNK]"), the same
layout as keras.layers.TextVectorization, so a saved model can tokenize strings itself.
"""

import re
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

OPERATORS = {"add": "+", "sub": "-", "mul": "*"}
COMMUTATIVE = {"add", "mul"}
RESERVED_TOKENS = ["", "[UNK]"]  # TextVectorization's padding and out-of-vocabulary tokens
DIGITS = "0123456789"
MAX_DIGITS = 9  # operands up to 999,999,999: products still fit the int64 keys of make_operands
SHOWN_CHARS = 40  # an expression quoted in an error message is cut here
# Near pairs (`near_pairs`): the questions where a borrow or carry runs through every digit.
NEAR_OPS = ("add", "sub")
NEAR_SPREAD = 10


@dataclass(frozen=True)
class Task:
    """One arithmetic task: the operator and the most digits an operand may have."""

    op: str = "add"
    digits: int = 3

    def __post_init__(self):
        if self.op not in OPERATORS:
            raise ConfigError(f"unknown operation {self.op!r}; use one of {', '.join(OPERATORS)}.")
        if not 1 <= self.digits <= MAX_DIGITS:
            raise ConfigError(f"--digits must be between 1 and {MAX_DIGITS}, not {self.digits}.")

    @property
    def symbol(self) -> str:
        return OPERATORS[self.op]

    @property
    def characters(self) -> list[str]:
        """The vocabulary handed to TextVectorization (reserved tokens excluded)."""
        return list(DIGITS) + [self.symbol]

    @property
    def tokens(self) -> list[str]:
        """Token index -> character, reserved tokens included."""
        return RESERVED_TOKENS + self.characters

    @property
    def question_length(self) -> int:
        return 2 * self.digits + 1

    @property
    def answer_length(self) -> int:
        # add: 999+999 = 1998; sub: -999 needs a sign; mul: 999*999 = 998001.
        return 2 * self.digits if self.op == "mul" else self.digits + 1

    @property
    def capacity(self) -> int:
        """How many different questions exist (a+b and b+a count once for + and *)."""
        count = 10 ** self.digits
        return count * (count + 1) // 2 if self.op in COMMUTATIVE else count * count

    def apply(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return {"add": np.add, "sub": np.subtract, "mul": np.multiply}[self.op](a, b)

    @classmethod
    def from_tokens(cls, tokens: list[str], digits: int) -> "Task":
        """The task of a saved model's vocabulary (which holds the operator), with `digits`."""
        symbols = [token for token in tokens if token in OPERATORS.values()]
        if len(symbols) != 1:
            raise ConfigError(f"vocabulary {tokens} holds no single operator.")
        task = cls(next(name for name, symbol in OPERATORS.items() if symbol == symbols[0]), digits)
        if task.tokens != list(tokens):
            raise ConfigError(f"vocabulary {tokens} is not that of {task.op} questions ({task.tokens}).")
        return task


def make_operands(task: Task, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` different operand pairs (fewer if fewer exist), in random order.

    Vectorised: candidates are drawn in batches and deduplicated with np.unique. Past a quarter
    of all the questions that exist, drawing until enough distinct ones turn up would take
    minutes (the last long-operand pairs are each drawn once in millions), so then every pair
    is listed and `count` are picked at once with the same probabilities (_pick_weighted).
    """
    rng = np.random.default_rng(seed)
    count = min(count, task.capacity)
    base = 10 ** task.digits
    keys = _pick_weighted(task, count, rng) if 4 * count > task.capacity else np.empty(0, dtype=np.int64)
    while len(keys) < count:
        draws = max(2 * (count - len(keys)), 1024)
        a, b = (_random_numbers(rng, task.digits, draws) for _ in range(2))
        if task.op in COMMUTATIVE:
            a, b = np.minimum(a, b), np.maximum(a, b)
        candidates = np.concatenate([keys, a * base + b])
        _, first = np.unique(candidates, return_index=True)
        keys = candidates[np.sort(first)][:count]  # keep draw order, so the order stays random
    a, b = keys // base, keys % base
    if task.op in COMMUTATIVE:  # show the pair in either order, as drawn questions would be
        swap = rng.random(len(a)) < 0.5
        a, b = np.where(swap, b, a), np.where(swap, a, b)
    return a, b


def _pick_weighted(task: Task, count: int, rng: np.random.Generator) -> np.ndarray:
    """Keys a*base+b of `count` pairs, in the order and with the odds of drawing until distinct.

    Each pair gets an exponential clock of rate P(pair) (Efraimidis and Spirakis 2006); the
    order in which the clocks ring is that of repeated draws with repeats dropped.
    """
    base = 10 ** task.digits
    values = np.arange(base)
    lengths = digit_counts(values, task.digits)
    # A number of L digits comes from a draw of any length >= L: P(v) = sum over them of 10^-length / digits.
    tails = np.cumsum(10.0 ** -np.arange(task.digits, 0, -1))[::-1] / task.digits
    chance = tails[lengths - 1]
    a, b = (grid.ravel() for grid in np.meshgrid(values, values, indexing="ij"))
    weight = chance[a] * chance[b]
    if task.op in COMMUTATIVE:  # a+b and b+a are one question, drawn either way
        kept = a <= b
        a, b, weight = a[kept], b[kept], np.where(a[kept] == b[kept], 1, 2) * weight[kept]
    clocks = rng.exponential(size=len(weight)) / weight
    first = np.argpartition(clocks, count - 1)[:count]
    return (a * base + b)[first[np.argsort(clocks[first])]].astype(np.int64)


def digit_counts(values: np.ndarray, digits: int) -> np.ndarray:
    """How many digits each of `values` (below 10**digits) is written with; 0 has one."""
    counts = np.ones(np.shape(values), dtype=int)
    for power in range(1, digits):
        counts += values >= 10 ** power
    return counts


def _random_numbers(rng: np.random.Generator, digits: int, count: int) -> np.ndarray:
    lengths = rng.integers(1, digits + 1, count)
    return rng.integers(0, 10 ** lengths)


def format_questions(task: Task, a: np.ndarray, b: np.ndarray, padded: bool = False) -> list[str]:
    """Questions as written ("7-980"), or with each operand zero-padded to `task.digits`
    ("007-980": every digit at a fixed position, which a transformer's position embedding uses)."""
    width = task.digits if padded else 0
    return [f"{x:0{width}d}{task.symbol}{y:0{width}d}" for x, y in zip(a.tolist(), b.tolist())]


def encode_questions(task: Task, a: np.ndarray, b: np.ndarray, padded: bool = False) -> np.ndarray:
    """Token ids (count, question_length) of "a<op>b", left-aligned and zero-padded."""
    return encode_strings(task, format_questions(task, a, b, padded), task.question_length)


def encode_answers(task: Task, a: np.ndarray, b: np.ndarray, order: str = "msb", blocks: int = 1) -> np.ndarray:
    """Token ids (count, blocks * answer_length) of the true results, each left-aligned and zero-padded.

    order "lsb" writes each number least-significant digit first ("-973" as "379-"), the order
    in which carries are worked out. blocks > 1 (multiplication) writes the products of a with
    the last 1, 2, ... digits of b first, so each number is the one before plus a times one digit.
    """
    values = [a * (b % 10 ** (block + 1)) for block in range(blocks - 1)] + [task.apply(a, b)]
    encoded = []
    for numbers in values:
        strings = [str(v) for v in numbers.tolist()]
        encoded.append(encode_strings(task, [s[::-1] for s in strings] if order == "lsb" else strings,
                                      task.answer_length))
    return np.concatenate(encoded, axis=1)


def encode_strings(task: Task, strings: list[str], length: int) -> np.ndarray:
    """Map characters to token ids through one lookup table; strings must be valid already."""
    table = np.zeros(256, dtype=np.int32)
    for index, token in enumerate(task.tokens):
        if len(token) == 1:
            table[ord(token)] = index
    padded = np.frombuffer("".join(s.ljust(length, "\0") for s in strings).encode("ascii"),
                           dtype=np.uint8).reshape(len(strings), length)
    return table[padded]


def decode(task: Task, ids: np.ndarray, order: str = "msb") -> list[str]:
    """Token ids (count, length) back to strings in the usual order; padding and unknown tokens vanish.

    order: the order the ids are written in ("lsb": least-significant digit first).
    """
    lookup = np.array([token if len(token) == 1 else "" for token in task.tokens], dtype=object)
    strings = ["".join(row) for row in lookup[ids]]
    return [s[::-1] for s in strings] if order == "lsb" else strings


def held_out_pairs(a: np.ndarray, b: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A mask of the questions to hold out: `fraction` of the unordered pairs {a, b}, all of
    their questions, so a held-out a*b (or a-b) is never trained on as b*a (or b-a) either."""
    pairs = pair_keys(a, b)
    unique = np.unique(pairs)
    count = max(1, round(len(unique) * fraction))
    if count >= len(unique):
        raise ConfigError(f"only {len(unique)} different operand pairs: too few to hold out a validation set.")
    return np.isin(pairs, rng.permutation(unique)[:count])


def near_pairs(task: Task, a: np.ndarray, b: np.ndarray, fraction: float, excluded: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """b with the first `fraction` of the pairs (already in random order) given a partner near a
    (`near_partners`) unless that pair's key is in `excluded` (held-out pairs); and how many got one."""
    if task.op not in NEAR_OPS:
        return b, 0
    count = round(fraction * len(a))
    partners = near_partners(task, a[:count], rng)
    changed = ~np.isin(pair_keys(a[:count], partners), excluded)
    b = b.copy()
    b[:count][changed] = partners[changed]
    return b, int(changed.sum())


def near_partners(task: Task, a: np.ndarray, rng: np.random.Generator, spread: int = NEAR_SPREAD) -> np.ndarray:
    """For each a, a second operand that makes a hard question: within `spread` of a for
    subtraction (a - b near zero, where the sign and every digit hang on a borrow that can run
    from the last digit to the first), within `spread` of a's nines' complement for addition
    (a + b near 99..9, where a carry can run through every digit)."""
    if task.op == "sub":
        centre = a
    elif task.op == "add":
        centre = 10 ** digit_counts(a, task.digits) - 1 - a
    else:
        raise ValueError(f"no near partners for {task.op}; they exist for {', '.join(NEAR_OPS)}")
    return np.clip(centre + rng.integers(-spread, spread + 1, len(a)), 0, 10 ** task.digits - 1)


def pair_keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One integer per unordered operand pair {a, b}: a*b and b*a get the same key."""
    return np.minimum(a, b).astype(np.int64) << 32 | np.maximum(a, b).astype(np.int64)


def parse_expression(task: Task, text: str) -> tuple[int, int]:
    """Check one expression such as "123-45" against the task and return its operands.

    Any text is safe to give: operand lengths are checked on the digits before int() sees them
    (Python refuses to convert more than 4,300 digits), and long text is cut in the message.

    Raises:
        ConfigError: naming what is wrong (operator, digits, stray characters).
    """
    expression = text.strip()
    shown = _shown(expression)
    stray = sorted(set(expression) - set(DIGITS) - set(OPERATORS.values()))
    if stray:
        listed = "".join(stray[:10]) + ("..." if len(stray) > 10 else "")
        raise ConfigError(f"{shown} has characters {listed!r}; write it as a{task.symbol}b with digits only.")
    match = re.fullmatch(r"([0-9]+)([-+*])([0-9]+)", expression)
    if not match:
        raise ConfigError(f"{shown} is not of the form a{task.symbol}b.")
    if match.group(2) != task.symbol:
        raise ConfigError(f"{shown} uses {match.group(2)!r}, but the model was trained on "
                          f"{task.symbol!r} ({task.op}).")
    a, b = match.group(1).lstrip("0") or "0", match.group(3).lstrip("0") or "0"
    if max(len(a), len(b)) > task.digits:
        raise ConfigError(f"{shown} has an operand longer than the model's {task.digits} digits.")
    return int(a), int(b)


def _shown(expression: str) -> str:
    """The expression quoted for a message, cut to SHOWN_CHARS characters."""
    if len(expression) <= SHOWN_CHARS:
        return repr(expression)
    return f"{expression[:SHOWN_CHARS]!r}... ({len(expression):,} characters)"
