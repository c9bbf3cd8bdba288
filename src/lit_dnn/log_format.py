"""How log lines look in the terminal (``train.log`` keeps each line's time and source)."""

import logging


class ConsoleFormatter(logging.Formatter):
    """An INFO line as its message alone, as Keras prints (the summary, one line per epoch, the
    closing lines); a warning or an error keeps its level and the logger that raised it."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno == logging.INFO and not record.exc_info:
            return record.getMessage()
        return f"{record.levelname} ({record.name}): {super().format(record)}"
