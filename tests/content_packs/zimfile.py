"""A small ZIM archive written with libzim's own writer, for the tests."""

from __future__ import annotations

from pathlib import Path

from libzim.writer import Creator, Hint, Item, StringProvider  # type: ignore[import-untyped]

ARTICLES = {
    "Accueil": ("Accueil", "<html><head><title>Accueil</title></head><body><h1>Vikidia "
                "d'essai</h1><p><a href=\"Beluga\">Le béluga</a></p></body></html>"),
    "Beluga": ("Béluga", "<html><head><title>Béluga</title></head><body><p>Le béluga est une "
               "baleine blanche du fleuve Saint-Laurent.</p><img src=\"img/beluga.png\">"
               "</body></html>"),
    "Phare": ("Phare", "<html><head><title>Phare</title></head><body><p>Un phare guide les "
              "bateaux la nuit sur la côte.</p></body></html>"),
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40


class _Item(Item):  # type: ignore[misc]
    def __init__(self, path: str, title: str, content: str | bytes, mimetype: str,
                 front: bool) -> None:
        super().__init__()
        self._path, self._title, self._mimetype, self._front = path, title, mimetype, front
        self._content = content

    def get_path(self) -> str:
        return self._path

    def get_title(self) -> str:
        return self._title

    def get_mimetype(self) -> str:
        return self._mimetype

    def get_contentprovider(self) -> StringProvider:
        return StringProvider(self._content)

    def get_hints(self) -> dict[Hint, int]:
        return {Hint.FRONT_ARTICLE: self._front}


def write_zim(path: Path, title: str = "Vikidia d'essai") -> Path:
    """Three articles (full-text indexed, in French), a picture and a redirect."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with Creator(str(path)).config_indexing(True, "fra").config_nbworkers(1) as creator:
        creator.set_mainpath("Accueil")
        for entry, (article_title, html) in ARTICLES.items():
            creator.add_item(_Item(entry, article_title, html, "text/html", True))
        creator.add_item(_Item("img/beluga.png", "", PNG, "image/png", False))
        creator.add_redirection("Baleine_blanche", "Baleine blanche", "Beluga",
                                {Hint.FRONT_ARTICLE: True})
        creator.add_metadata("Title", title)
        creator.add_metadata("Description", "Une petite encyclopédie pour les tests")
        creator.add_metadata("Language", "fra")
    return path
