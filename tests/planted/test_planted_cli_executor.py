"""`pasta simulate --executor` gives the same shards as the default in-process run."""

from __future__ import annotations

from click.testing import CliRunner


def test_executor_flag_gives_identical_shards(tmp_path):
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    runner = CliRunner()
    common = ["simulate", "-n", "6", "--shard-size", "3", "--turns", "2", "--quiet"]
    serial = runner.invoke(cli, [*common, "--out", str(tmp_path / "serial")])
    pooled = runner.invoke(cli, [*common, "--out", str(tmp_path / "pool"), "--executor", "process", "--workers", "2"])
    assert serial.exit_code == 0 and pooled.exit_code == 0, serial.output + pooled.output
    for shard in ("part-00000.parquet", "part-00001.parquet"):
        assert (tmp_path / "serial" / shard).read_bytes() == (tmp_path / "pool" / shard).read_bytes()
