"""``python -m huatu.bench [--quick] [--out PATH]``."""

from huatu.bench.run import cli

if __name__ == "__main__":
    raise SystemExit(cli())
