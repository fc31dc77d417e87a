"""RateLimiter: token buckets per key on injected time, with a bounded number of keys."""

from __future__ import annotations

from asr_service.throttle import RateLimiter


def test_a_burst_of_rate_then_refusals_until_tokens_come_back() -> None:
    limiter = RateLimiter(rate=3, per_s=60)
    assert [limiter.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert not limiter.allow("a", now=19.0)  # one token every 20 s
    assert limiter.allow("a", now=20.5)
    assert not limiter.allow("a", now=20.5)
    assert limiter.allow("b", now=20.5)  # keys do not share a bucket


def test_a_bucket_refills_no_further_than_rate() -> None:
    limiter = RateLimiter(rate=2, per_s=10)
    assert limiter.allow("a", now=0.0)
    assert [limiter.allow("a", now=1000.0) for _ in range(3)] == [True, True, False]


def test_refused_attempts_take_no_token() -> None:
    limiter = RateLimiter(rate=1, per_s=10)
    assert limiter.allow("a", now=0.0)
    assert not limiter.allow("a", now=5.0)
    assert limiter.allow("a", now=10.0)  # the refusal at 5 s did not push the refill back


def test_forgetting_a_key_gives_it_a_full_bucket() -> None:
    limiter = RateLimiter(rate=1, per_s=60)
    assert limiter.allow("a", now=0.0) and not limiter.allow("a", now=0.0)
    limiter.forget("a")
    limiter.forget("never seen")
    assert limiter.allow("a", now=0.0)


def test_past_max_keys_the_least_recently_seen_is_forgotten() -> None:
    limiter = RateLimiter(rate=1, per_s=60, max_keys=2)
    assert limiter.allow("a", now=0.0) and limiter.allow("b", now=0.0)
    assert not limiter.allow("a", now=0.0)  # "a" is now the most recent
    assert limiter.allow("c", now=0.0)  # "b" is forgotten
    assert not limiter.allow("a", now=0.0)  # "a" was kept
    assert limiter.allow("b", now=0.0)  # "b" starts again with a full bucket
