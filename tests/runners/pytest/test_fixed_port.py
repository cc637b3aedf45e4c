# Twelve tests, each with its own server on 127.0.0.1:8000 (conftest.py).
import urllib.request

import pytest


@pytest.mark.parametrize("n", range(12))
def test_client_reaches_its_own_server(server, n):
    with urllib.request.urlopen("http://127.0.0.1:8000/", timeout=20) as r:
        assert r.read().decode() == server
