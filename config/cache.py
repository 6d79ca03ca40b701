"""The shared cache on the broker's Redis (config/settings.py CACHES)."""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache


class PrefixedRedisCache(RedisCache):
    """Django's Redis cache whose clear() deletes only the cache's own keys (its KEY_PREFIX).

    Django's clear() is FLUSHDB, which on the broker's database would also drop Celery's queues.
    """

    def clear(self) -> None:
        client = self._cache.get_client(write=True)
        pattern = f"{self.key_prefix}:*" if self.key_prefix else "*"
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
