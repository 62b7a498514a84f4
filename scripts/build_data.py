#!/usr/bin/env python
"""Build the product data: `python scripts/build_data.py {fetch,render-bank,build-scenes,all} [options]`.

The same commands as `augment data {fetch,bank,scenes,build}`; see docs/DATA.md.
"""
from __future__ import annotations

import click

from product_augment.cli.data import bank, build_all, fetch, scenes


@click.group()
def main() -> None:
    """Fetch sources, render the cutout bank, build COCO scene sets."""


main.add_command(fetch, "fetch")
main.add_command(bank, "render-bank")
main.add_command(scenes, "build-scenes")
main.add_command(build_all, "all")

if __name__ == "__main__":
    main()
