"""The source strings are English, so the English catalog translates each to itself.

Run by `make extract-messages` after `pybabel update`, so the English catalog stays
complete without anyone copying strings by hand.
"""
import sys

from babel.messages.pofile import read_po, write_po

PATH = "crm/translations/en/LC_MESSAGES/messages.po"


def main(path: str = PATH) -> int:
    with open(path, "rb") as handle:
        catalog = read_po(handle, locale="en")
    filled = 0
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            if not all(message.string):
                message.string = tuple(message.id)
                filled += 1
        elif not message.string:
            message.string = message.id
            filled += 1
        if message.fuzzy:
            message.flags.discard("fuzzy")
    with open(path, "wb") as handle:
        write_po(handle, catalog, width=100)
    print(f"English catalog: {filled} entries filled")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
