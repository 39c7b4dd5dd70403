"""taos.chain: LocalChain (memory and file, validated input, weights recorded), BittensorChain
construction and metagraph conversion offline, and imports without bittensor."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taos.chain import BittensorChain, ChainError, LocalChain, Metagraph, Neuron, WeightsCall
from taos.chain.local import parse

VALIDATOR = "5Validator"
MINER = "5Miner"


def neurons() -> list[Neuron]:
    return [
        Neuron(0, VALIDATOR, True, 5000.0, None),
        Neuron(1, MINER, False, 0.0, "127.0.0.1:8091"),
        Neuron(2, "5Other", False, 10.0, None),
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_metagraph_snapshot_and_lookups() -> None:
    chain = LocalChain(MINER, neurons(), block=7)
    graph = chain.metagraph()
    assert isinstance(graph, Metagraph) and graph.block == 7
    assert graph.uids == [0, 1, 2]
    assert graph.hotkeys == [VALIDATOR, MINER, "5Other"]
    assert graph.permits == [True, False, False]
    assert graph.stakes == [5000.0, 0.0, 10.0]
    assert graph.endpoints == [None, "127.0.0.1:8091", None]
    assert chain.uid_of(VALIDATOR) == 0 and chain.uid_of("5Nobody") is None
    assert chain.own_uid() == 1 and chain.hotkey == MINER


def test_blocks_follow_the_clock() -> None:
    clock = Clock()
    chain = LocalChain(MINER, neurons(), block=10, block_time_s=12.0, clock=clock)
    assert chain.current_block() == 10
    clock.now += 25.0
    assert chain.current_block() == 12 == chain.metagraph().block


def test_serve_in_memory_sets_the_own_endpoint() -> None:
    chain = LocalChain(MINER, neurons())
    chain.serve("10.0.0.5", 9000)
    assert chain.metagraph().endpoints[1] == "10.0.0.5:9000"
    chain.serve("::1", 9001)
    assert chain.metagraph().endpoints[1] == "[::1]:9001"
    with pytest.raises(ChainError, match="port must be"):
        chain.serve("10.0.0.5", 70_000)
    with pytest.raises(ChainError, match="not registered"):
        LocalChain("5Stranger", neurons()).serve("10.0.0.5", 9000)


def test_set_weights_records_valid_calls_and_refuses_bad_ones() -> None:
    clock = Clock()
    chain = LocalChain(VALIDATOR, neurons(), block=3, clock=clock)
    chain.set_weights([1, 2], [0.75, 0.25])
    clock.now += 12.0
    chain.set_weights([1], [1])
    assert chain.weight_calls == [WeightsCall(3, (1, 2), (0.75, 0.25)), WeightsCall(4, (1,), (1.0,))]
    for uids, weights, message in [
        ([1, 2], [1.0], "2 uids but 1 weights"),
        ([1, 1], [1.0, 1.0], "given twice"),
        ([9], [1.0], r"unknown uid\(s\): \[9\]"),
        ([1], [-0.5], "weight of uid 1 must be"),
        ([1], [float("nan")], "weight of uid 1 must be"),
    ]:
        with pytest.raises(ChainError, match=message):
            chain.set_weights(uids, weights)
    assert len(chain.weight_calls) == 2
    with pytest.raises(ChainError, match="no validator permit"):
        LocalChain(MINER, neurons()).set_weights([0], [1.0])
    with pytest.raises(ChainError, match="not registered"):
        LocalChain("5Stranger", neurons()).set_weights([0], [1.0])


def write_chain(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


DOC = {
    "block": 5,
    "neurons": [
        {"hotkey": VALIDATOR, "validator_permit": True, "stake": 2000},
        {"hotkey": MINER},
    ],
}


def test_file_chain_reads_defaults_and_sees_changes(tmp_path: Path) -> None:
    path = write_chain(tmp_path / "chain.json", DOC)
    chain = LocalChain.from_file(path, MINER)
    graph = chain.metagraph()
    assert graph.neurons == (Neuron(0, VALIDATOR, True, 2000.0, None), Neuron(1, MINER, False, 0.0, None))
    other = dict(DOC, neurons=[*DOC["neurons"], {"hotkey": "5New", "stake": 1.5}])
    write_chain(path, other)
    import os

    os.utime(path, ns=(1, 1))  # a different mtime, whatever the clock's resolution
    assert chain.metagraph().hotkeys == [VALIDATOR, MINER, "5New"]


def test_file_chain_serve_writes_the_endpoint_for_other_processes(tmp_path: Path) -> None:
    path = write_chain(tmp_path / "chain.json", DOC)
    LocalChain.from_file(path, MINER).serve("127.0.0.1", 8123)
    assert json.loads(path.read_text())["neurons"][1]["endpoint"] == "127.0.0.1:8123"
    assert LocalChain.from_file(path, VALIDATOR).metagraph().endpoints == [None, "127.0.0.1:8123"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "chain.json",
        "chain.json.lock",
    ]  # no temp file left


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], r"\(root\): must be an object"),
        ({"neurons": [], "colour": 1}, "colour: unknown key"),
        ({}, "neurons: must be a list"),
        ({"block": -1, "neurons": []}, "block: must be an integer >= 0"),
        ({"block_time_s": 0, "neurons": []}, "block_time_s: must be a number > 0"),
        ({"neurons": [3]}, r"neurons\[0\]: must be an object"),
        ({"neurons": [{"hotkey": ""}]}, r"neurons\[0\]\.hotkey: must be a non-empty string"),
        ({"neurons": [{"hotkey": "a"}, {"hotkey": "a"}]}, r"neurons\[1\]\.hotkey: a is registered twice"),
        (
            {"neurons": [{"hotkey": "a", "validator_permit": "yes"}]},
            r"neurons\[0\]\.validator_permit: must be true",
        ),
        (
            {"neurons": [{"hotkey": "a"}, {"hotkey": "b", "stake": "lots"}]},
            r"neurons\[1\]\.stake: must be a number",
        ),
        ({"neurons": [{"hotkey": "a", "stake": -1}]}, r"neurons\[0\]\.stake: must be a number >= 0"),
        (
            {"neurons": [{"hotkey": "a", "endpoint": "nohost"}]},
            r"neurons\[0\]\.endpoint: must be null or 'host:port'",
        ),
        ({"neurons": [{"hotkey": "a", "endpoint": "h:99999"}]}, r"neurons\[0\]\.endpoint"),
        ({"neurons": [{"hotkey": "a", "uid": 3}]}, r"neurons\[0\]\.uid: unknown key"),
    ],
)
def test_bad_chain_documents_name_the_field(doc: object, message: str) -> None:
    with pytest.raises(ChainError, match=message):
        parse(doc, "chain.json")


def test_bad_chain_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ChainError, match=r"missing\.json: cannot read"):
        LocalChain.from_file(tmp_path / "missing.json", MINER)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ChainError, match=r"bad\.json: not valid JSON"):
        LocalChain.from_file(bad, MINER)
    with pytest.raises(ChainError, match="block_time_s must be > 0"):
        LocalChain(MINER, block_time_s=0)


# --- BittensorChain, offline --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wallet(tmp_path_factory: pytest.TempPathFactory):
    import bittensor as bt

    w = bt.Wallet(name="chain-test", hotkey="hot", path=str(tmp_path_factory.mktemp("wallets")))
    w.create_new_coldkey(use_password=False, overwrite=True, suppress=True)
    w.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
    return w


def test_bittensor_chain_builds_offline_and_checks_its_arguments(wallet, tmp_path: Path) -> None:
    import bittensor as bt

    chain = BittensorChain(network="finney", netuid=79, wallet=wallet)
    assert chain.hotkey == wallet.hotkey.ss58_address and chain.netuid == 79
    with pytest.raises(ChainError, match="network 'nowhere'"):
        BittensorChain(network="nowhere", netuid=79, wallet=wallet)
    with pytest.raises(ChainError, match="netuid must be"):
        BittensorChain(network="finney", netuid=-1, wallet=wallet)
    with pytest.raises(ChainError, match="cannot read the hotkey"):
        BittensorChain(network="finney", netuid=79, wallet=bt.Wallet("absent", "absent", str(tmp_path)))
    with pytest.raises(ChainError, match="needs an IP address"):
        chain.serve("my-host.example", 8091)
    with pytest.raises(ChainError, match="port must be"):
        chain.serve("1.2.3.4", 0)


def test_a_bittensor_metagraph_converts_to_the_snapshot() -> None:
    import bittensor as bt

    def neuron(uid: int, hotkey: str, permit: bool, stake_rao: int, axon: str | None) -> bt.MetagraphNeuron:
        zero = bt.Balance.from_rao(0, 79)
        return bt.MetagraphNeuron(
            uid=uid, hotkey=hotkey, coldkey="5Cold", active=True, validator_permit=permit, last_update=0,
            block_at_registration=0, rank=0.0, trust=0.0, consensus=0.0, incentive=0.0, dividends=0.0,
            pruning_score=0.0, emission=zero, alpha_stake=zero, tao_stake=bt.Balance.from_rao(0),
            total_stake=bt.Balance.from_rao(stake_rao, 79), axon=axon, identity=None, commitment=None,
        )  # fmt: skip

    graph = bt.Metagraph(
        netuid=79, mechid=0, name="taos", symbol="t", block=1234, tempo=360, last_step=0,
        blocks_since_last_step=0, owner_hotkey="5Owner", owner_coldkey="5Cold", network_registered_at=0,
        num_uids=2, max_uids=256, price=None, moving_price=None, identity=None,
        neurons=[neuron(0, VALIDATOR, True, 2_500_000_000_000, None), neuron(1, MINER, False, 0, "1.2.3.4:8091")],
        commitments={}, unregistered_commitments={}, raw={},
    )  # fmt: skip
    from taos.chain.bittensor_chain import metagraph_from_bittensor

    assert metagraph_from_bittensor(graph) == Metagraph(
        1234, (Neuron(0, VALIDATOR, True, 2500.0, None), Neuron(1, MINER, False, 0.0, "1.2.3.4:8091"))
    )


def test_chain_imports_without_bittensor_and_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['bittensor'] = None\n"
        "sys.modules['taos._simulator'] = None\n"
        "from taos.chain import BittensorChain, ChainError, LocalChain\n"
        "LocalChain('5X')\n"
        "try:\n"
        "    BittensorChain(network='finney', netuid=1, wallet=None)\n"
        "except ChainError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "taos[chain]" in out.stdout


def test_the_hotkey_signer_is_read_once_and_signs_verifiable_requests(tmp_path: Path) -> None:
    """``hotkey_signer`` reads a wallet's hotkey file once: its signer keeps signing, verifiably,
    after the file is gone (signing with the wallet itself reads the file at every request)."""
    import bittensor as bt
    from wallets import make_wallet

    from taos.chain import hotkey_signer

    wallet = make_wallet(tmp_path / "wallets", "validator")
    receiver = make_wallet(tmp_path / "wallets", "miner").hotkey.ss58_address
    signer = hotkey_signer(wallet)
    assert signer.ss58_address == wallet.hotkey.ss58_address
    assert hotkey_signer(signer) is signer  # a signer passes through
    Path(wallet.hotkey_file.path).unlink()
    body = b"state"
    headers = bt.http_auth.sign(signer, method="POST", path="/state", body=body, receiver_ss58=receiver)
    caller = bt.http_auth.verify(headers, body, method="POST", path="/state", self_hotkey_ss58=receiver)
    assert caller.hotkey_ss58 == signer.ss58_address
    fresh = bt.Wallet(name="validator", hotkey="hot", path=str(tmp_path / "wallets"))
    with pytest.raises(ChainError, match="cannot read the hotkey of wallet 'validator'"):
        hotkey_signer(fresh)
