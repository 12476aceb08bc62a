"""The soak's short form: 32 clients for 30 s against `citeqa serve` in its own process,
mixing questions, hostile bodies and writes. The full 2-minute form is `make bench`."""

from __future__ import annotations

from pathlib import Path

from conftest import free_port

from bench.soak import ServerProcess, sample_index, soak


def test_a_short_soak_has_no_5xx_and_loses_no_write(tmp_path: Path) -> None:
    sample_index(tmp_path / "index")
    with ServerProcess(tmp_path / "index", free_port()) as server:
        result = soak(server, clients=32, seconds=30)
    assert result.server_errors == 0, result.statuses
    assert result.writes_checked > 0, "the mix wrote nothing"
    assert result.problems == []
    assert set(result.statuses) - {200, 400, 401, 404, 409, 413, 422, 429} == set()
