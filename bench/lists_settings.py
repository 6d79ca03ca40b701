"""Settings of the list benchmark: the product's, plus the floor view's URLconf (bench/lists_urls.py).

Used only by bench/api_lists.py; the production URLs never mount the floor.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.lists_urls"
