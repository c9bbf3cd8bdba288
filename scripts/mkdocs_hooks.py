"""mkdocs hooks (mkdocs.yml): the README is the site's home page, and links written for reading the
files on GitHub (``docs/training.md`` in the README, ``../README.md`` and ``guide.ko.md`` in the
pages) become links between the site's pages and languages."""

import posixpath
import re
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]


@event_priority(-100)  # after mkdocs-static-i18n has sorted the files of each language's build
def on_files(files: Files, config) -> Files:  # noqa: ANN001 - mkdocs' own config object
    if files.get_file_from_path("index.md") is None:
        files.append(File.generated(config, "index.md", content=(ROOT / "README.md").read_text()))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001
    if page.file.src_uri == "index.md":
        markdown = markdown.replace("](docs/", "](")
    markdown = markdown.replace("](../README.md", "](index.md")
    # the Korean guide is the same page in the other language's build (mkdocs-static-i18n: ko/guide/)
    korean = posixpath.relpath("ko/guide", page.url or ".") + "/"
    markdown = re.sub(r"\]\((docs/)?guide\.ko\.md\)", f"]({korean})", markdown)
    if page.file.src_uri == "security.md":  # model.loss[0][1] in its table is text, not a reference link
        markdown = markdown.replace("][", "]\\[")
    return markdown
