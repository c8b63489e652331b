"""Content packs: manifest, verification, atomic install into the data folder, catalogue
and search.

Never imports Flask: the web app, the agent, the CLI and the central all use it.
"""

from content_packs.catalog import (
    InstalledPack,
    Resource,
    ResourceFile,
    ServedFile,
    active_pack,
    get_resource,
    list_packs,
    resource_files,
    served_file,
)
from content_packs.install import (
    PackRefused,
    check_folder,
    check_installable,
    install_pack,
    install_work,
    link_active_versions,
    reindex,
    remove_pack,
    verify_tree,
)
from content_packs.manifest import (
    CYCLES,
    KIND_LABELS,
    KINDS,
    SUBJECTS,
    Manifest,
    ManifestError,
    PackFile,
    ResourceSpec,
    Text,
    parse_manifest,
    read_manifest,
    write_manifest,
)
from content_packs.search import Facets, Filters, ResultPage, check_filters, facets, find_resources

__all__ = [
    "CYCLES",
    "KINDS",
    "KIND_LABELS",
    "SUBJECTS",
    "Facets",
    "Filters",
    "InstalledPack",
    "Manifest",
    "ManifestError",
    "PackFile",
    "PackRefused",
    "Resource",
    "ResourceFile",
    "ResourceSpec",
    "ResultPage",
    "ServedFile",
    "Text",
    "active_pack",
    "check_filters",
    "check_folder",
    "check_installable",
    "facets",
    "find_resources",
    "get_resource",
    "install_pack",
    "install_work",
    "link_active_versions",
    "list_packs",
    "parse_manifest",
    "read_manifest",
    "reindex",
    "remove_pack",
    "resource_files",
    "served_file",
    "verify_tree",
    "write_manifest",
]
