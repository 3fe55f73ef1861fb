"""The local Kafka's node configuration: one node as before, or a cluster whose nodes sit 10
ports apart, form one KRaft quorum and keep what they acknowledge on two nodes."""

from __future__ import annotations

from pathlib import Path

from govbus.config import LocalRuntimeSettings
from govbus_devtools.devenv.kafka import KafkaCluster, LocalKafka


def settings(tmp_path: Path, brokers: int) -> LocalRuntimeSettings:
    return LocalRuntimeSettings(
        state_dir=tmp_path,
        kafka_port=40092,
        kafka_controller_port=40093,
        kafka_sasl_port=40094,
        kafka_brokers=brokers,
    )


def config(node: LocalKafka) -> dict[str, str]:
    text = node._write_config().read_text()
    return dict(line.split("=", 1) for line in text.splitlines())


def test_a_single_node_keeps_its_ports_files_and_replication_one(tmp_path: Path) -> None:
    (only,) = KafkaCluster(settings(tmp_path, 1)).nodes
    conf = config(only)
    assert only.home == tmp_path / "kafka"
    assert only.process.pid_file == tmp_path / "kafka.pid"
    assert conf["node.id"] == "1"
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:40093"
    assert conf["listeners"].startswith("PLAINTEXT://127.0.0.1:40092,")
    assert conf["offsets.topic.replication.factor"] == "1"
    assert conf["transaction.state.log.min.isr"] == "1"


def test_three_nodes_are_ten_ports_apart_in_one_quorum_replicating_three(
    tmp_path: Path,
) -> None:
    cluster = KafkaCluster(settings(tmp_path, 3))
    assert cluster.bootstrap == "127.0.0.1:40092,127.0.0.1:40102,127.0.0.1:40112"
    confs = [config(n) for n in cluster.nodes]
    assert [c["node.id"] for c in confs] == ["1", "2", "3"]
    voters = "1@127.0.0.1:40093,2@127.0.0.1:40103,3@127.0.0.1:40113"
    assert all(c["controller.quorum.voters"] == voters for c in confs)
    assert confs[2]["listeners"] == (
        "PLAINTEXT://127.0.0.1:40112,CONTROLLER://127.0.0.1:40113,SASL_PLAINTEXT://127.0.0.1:40114"
    )
    for conf in confs:
        assert conf["offsets.topic.replication.factor"] == "3"
        assert conf["transaction.state.log.replication.factor"] == "3"
        assert conf["transaction.state.log.min.isr"] == "2"
        assert conf["min.insync.replicas"] == "2"
        assert conf["default.replication.factor"] == "3"
        assert conf["unclean.leader.election.enable"] == "false"
    homes = {n.home for n in cluster.nodes}
    assert len(homes) == 3
    assert tmp_path / "kafka" not in homes  # a single node's data is never reused


def test_the_bus_clients_bootstrap_from_every_local_node(tmp_path: Path) -> None:
    assert settings(tmp_path, 1).local_bootstrap == "127.0.0.1:40092"
    assert settings(tmp_path, 3).local_bootstrap.count(",") == 2
