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
