"""Under pytest-xdist every process runs its own runtime: the ports of one process's runtime,
its fault cluster and its federation peer never meet another process's."""

from __future__ import annotations

from govbus_devtools.devenv.peer import PORT_OFFSET as PEER_OFFSET
from tests.conftest import CLUSTER_PORT_OFFSET, TEST_RUNTIME_ENV, runtime_env

NODE_STRIDE = 10  # a cluster's node i listens on its base ports + 10 * i


def ports(env: dict[str, str]) -> set[int]:
    bases = [int(v) for k, v in env.items() if k.endswith("_PORT")]
    offsets = [0, PEER_OFFSET] + [CLUSTER_PORT_OFFSET + NODE_STRIDE * i for i in range(3)]
    return {base + offset for base in bases for offset in offsets}


def test_without_xdist_the_settings_are_unchanged() -> None:
    assert runtime_env(TEST_RUNTIME_ENV, None) == TEST_RUNTIME_ENV


def test_the_first_process_uses_the_plain_runtime() -> None:
    assert runtime_env(TEST_RUNTIME_ENV, "gw0") == TEST_RUNTIME_ENV


def test_each_process_has_state_directories_of_its_own() -> None:
    env = runtime_env(TEST_RUNTIME_ENV, "gw1")
    assert env["GOVBUS_STATE_DIR"] == TEST_RUNTIME_ENV["GOVBUS_STATE_DIR"] + "-gw1"
    assert env["GOVBUS_PG_DATA_DIR"] == TEST_RUNTIME_ENV["GOVBUS_PG_DATA_DIR"] + "-gw1"


def test_no_two_processes_share_a_port() -> None:
    seen: set[int] = set()
    for n in range(4):
        mine = ports(runtime_env(TEST_RUNTIME_ENV, f"gw{n}"))
        assert not mine & seen
        seen |= mine
