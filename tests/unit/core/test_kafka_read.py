"""Reading a topic to its end survives a leader moving (after a broker restart) but not a
real error."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from govbus.kafka_read import retrying


class Flaky:
    def __init__(self, errors: list[int]) -> None:
        self.errors = errors
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return 42


def test_a_moving_leader_is_waited_for() -> None:
    call = Flaky([KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE])
    assert retrying(call, for_s=30) == 42
    assert call.calls == 3


def test_a_real_error_is_raised_at_once() -> None:
    call = Flaky([KafkaError.TOPIC_AUTHORIZATION_FAILED])
    with pytest.raises(KafkaException):
        retrying(call, for_s=30)
    assert call.calls == 1


def test_a_leader_that_never_comes_back_is_given_up_on() -> None:
    call = Flaky([KafkaError.NOT_LEADER_FOR_PARTITION] * 100)
    with pytest.raises(KafkaException):
        retrying(call, for_s=0.0)
    assert call.calls == 1
