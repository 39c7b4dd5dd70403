"""Small markets for tests: the TOML of the background populations (initialization agents,
stylized traders, market makers), to append to a test's own [simulation] and [miners] tables."""


def populations(initialization: int = 40, stylized: int = 40, makers: int = 3) -> str:
    return f"""
[[population]]
model = "initialization"
count = {initialization}
base = 50.0
quote = 15000.0
[[population]]
model = "stylized_trader"
count = {stylized}
base = 50.0
quote = 15000.0
latency_s = [0.001, 0.05]
[[population]]
model = "market_maker"
count = {makers}
base = 200.0
quote = 60000.0
"""


def loop_market(
    *,
    slots: int = 4,
    seed: int = 5,
    duration_s: float = 900.0,
    grace_period_s: float = 60.0,
    miners: str = "",
) -> str:
    """The TOML of a two-book market of 5 s steps for validator-loop tests; ``miners`` adds lines to
    the [miners] table (e.g. ``"wealth = 1000.0"``)."""
    return f"""
[simulation]
books = 2
seed = {seed}
duration_s = {duration_s}
publish_interval_s = 5.0
grace_period_s = {grace_period_s}
[miners]
slots = {slots}
{miners}
""" + populations(50, 60, 3)
