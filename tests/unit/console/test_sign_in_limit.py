"""The sign-in limit: per user name and per address, in a sliding window."""

from __future__ import annotations

from services.console.sign_in_limit import SignInLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_holds_until_the_oldest_failure_leaves_the_window():
    clock = Clock()
    limiter = SignInLimiter(3, 60, clock)
    for step in range(3):
        assert limiter.retry_after("user:otto") == 0
        limiter.failed("user:otto")
        clock.now += 10 * (step < 2)
    assert limiter.retry_after("user:otto") == 40  # the first failure leaves at 1060
    clock.now = 1060
    assert limiter.retry_after("user:otto") == 0


def test_either_key_over_the_limit_holds_the_attempt():
    limiter = SignInLimiter(2, 60, Clock())
    limiter.failed("user:a", "address:1.2.3.4")
    limiter.failed("user:b", "address:1.2.3.4")
    assert limiter.retry_after("user:c", "address:1.2.3.4") > 0
    assert limiter.retry_after("user:c", "address:5.6.7.8") == 0


def test_success_clears_the_users_count_but_not_the_addresses():
    limiter = SignInLimiter(2, 60, Clock())
    limiter.failed("user:a", "address:x")
    limiter.failed("user:a", "address:x")
    limiter.succeeded("user:a")
    assert limiter.retry_after("user:a") == 0
    assert limiter.retry_after("address:x") > 0


def test_made_up_names_do_not_pile_up():
    clock = Clock()
    limiter = SignInLimiter(5, 60, clock)
    for n in range(10_001):
        limiter.failed(f"user:{n}")
    clock.now += 61
    limiter.failed("user:last")
    assert len(limiter._failures) == 1
