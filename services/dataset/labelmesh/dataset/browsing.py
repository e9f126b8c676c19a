"""Browsing a project's items: what the projection keeps for each item on
write so that a filter is one index lookup, and how a request walks that
index. Pure: no I/O.

Every filter value is a facet string (`class:cat`, `term:dog`, ...) in one
multikey array indexed with the project and the item's place in its project
(`seq`); a status and a class together are one facet too, the pair the data
view asks for most. A request looks up one facet over a window of places at
a time, and checks the other facets on the items returned. Which facet: the
few likeliest are each looked up over the first places, and the one that
matched fewest leads. SecantusDB reads every entry of a range it is asked
for, even with a limit, so the window is what bounds the work; it grows
while the facet is sparse, and a request stops after a fixed number of
windows with a cursor. Each window is sized from the rate the one before
matched: large enough to fill the page, at most four times larger.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import class_of
from labelmesh.dataset.records import BrowseStatus, ItemStatus, ItemSummary, ProjectedItem
from labelmesh.v1.dataset_service_pb2 import ListItemsRequest
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label

# Characters of an item's text a listing shows.
TEXT_CHARS = 200
# Search terms kept per item, and characters kept per term.
MAX_TERMS = 32
MAX_TERM_CHARS = 40
# Words a search may name.
MAX_QUERY_WORDS = 8
# A facet longer than this is kept as a hash of itself.
MAX_FACET_CHARS = 120
DEFAULT_PAGE, MAX_PAGE = 50, 500
# Bounds of one request's walk: places per window, and windows per request.
MAX_WINDOW = 16_384
MAX_WINDOWS = 12
# Facets looked up over the first places to choose the lead, and how many places.
MAX_PROBES = 4
PROBE_PLACES = 256
# The facet every item has, for a request without filters.
EVERY_ITEM = "all"
# Letters and digits: underscores, dots and dashes of file names split words.
WORD = re.compile(r"[^\W_]+")
STATUSES = ", ".join(s.value for s in BrowseStatus)
# The facets a lookup leads with first: those likely to match fewest items.
# Rare statuses lead before classes; the common ones only before nothing.
LEAD_ORDER = (
    "term",
    "meta",
    "annotator",
    "status-class",
    "rare-status",
    "class",
    "source",
    "type",
    "status",
)
RARE_STATUSES = frozenset({BrowseStatus.FLAGGED, BrowseStatus.IN_REREVIEW})


def status_of(item: ProjectedItem) -> BrowseStatus:
    """Where the item stands: accepted, back in review, flagged before it was
    accepted, annotated, or new."""
    if item.status is ItemStatus.IN_REREVIEW:
        return BrowseStatus.IN_REREVIEW
    if item.acceptance is not None:
        return BrowseStatus.ACCEPTED
    if item.flagged_at is not None:
        return BrowseStatus.FLAGGED
    if item.annotations:
        return BrowseStatus.ANNOTATED
    return BrowseStatus.NEW


def classes_of(item: ProjectedItem) -> tuple[str, ...]:
    """The classes of the item's annotations and of its accepted labels, each once."""
    named = [name for trace in item.annotations.values() for name in trace.classes]
    if item.acceptance is not None:
        accepted = (class_of(Label.FromString(raw)) for raw in item.acceptance.labels)
        named += [name for name in accepted if name]
    return tuple(dict.fromkeys(named))


def annotators_of(item: ProjectedItem) -> tuple[str, ...]:
    return tuple(sorted({t.annotator for t in item.annotations.values() if t.annotator}))


def words(text: str) -> list[str]:
    """The lowercased words of `text`, each once, in order, cut to MAX_TERM_CHARS."""
    return list(dict.fromkeys(w[:MAX_TERM_CHARS] for w in WORD.findall(text.lower())))


def search_terms(item: ProjectedItem) -> list[str]:
    """The words of the item's file name, then of its text, at most MAX_TERMS."""
    return list(dict.fromkeys([*words(item.filename), *words(item.text)]))[:MAX_TERMS]


def facet(kind: str, value: str) -> str:
    """The facet string of one filter value; a long one is a hash, the same
    whether written or asked for."""
    written = f"{kind}:{value}"
    if len(written) <= MAX_FACET_CHARS:
        return written
    return f"{kind}#{hashlib.sha256(written.encode()).hexdigest()[:32]}"


def facets_of(
    item: ProjectedItem,
    status: BrowseStatus,
    classes: tuple[str, ...],
    annotators: tuple[str, ...],
) -> list[str]:
    """Every facet a filter may look the item up by; none for a deleted item,
    which browsing no longer lists."""
    if item.deleted_at is not None:
        return []
    found = [EVERY_ITEM, facet("status", status.value), facet("type", _type_name(item.data_type))]
    if item.source:
        found.append(facet("source", item.source))
    found += [facet("class", name) for name in classes]
    found += [facet("status-class", f"{status.value}/{name}") for name in classes]
    found += [facet("annotator", name) for name in annotators]
    found += [facet("meta", f"{k}={v}") for k, v in sorted(item.metadata.items())]
    found += [facet("term", term) for term in search_terms(item)]
    return list(dict.fromkeys(found))


def _type_name(data_type: int) -> str:
    return DataType.Name(data_type) if data_type in DataType.values() else str(data_type)


@dataclass(frozen=True)
class Wanted:
    """The facets a request asks for: the one likeliest to match fewest items,
    the rest, and its page size. `probes` are the likeliest few, lead first,
    when there is a choice to make."""

    lead: str
    rest: frozenset[str]
    size: int
    probes: tuple[str, ...] = ()


def wanted(request: ListItemsRequest) -> Wanted:
    """What the request asks for; InvalidField names a filter that could never match."""
    ranked: list[tuple[str, str]] = []
    if request.status:
        try:
            status = BrowseStatus(request.status)
        except ValueError:
            raise InvalidField("status", f"must be one of {STATUSES}") from None
        rank = "rare-status" if status in RARE_STATUSES else "status"
        ranked.append((rank, facet("status", status.value)))
    if request.class_name:
        ranked.append(("class", facet("class", request.class_name)))
        if request.status:
            pair = f"{request.status}/{request.class_name}"
            ranked.append(("status-class", facet("status-class", pair)))
    if request.annotator:
        ranked.append(("annotator", facet("annotator", request.annotator)))
    if request.source:
        ranked.append(("source", facet("source", request.source)))
    if request.data_type:
        if request.data_type not in DataType.values():
            raise InvalidField("data_type", f"unknown data type {request.data_type}")
        ranked.append(("type", facet("type", DataType.Name(request.data_type))))
    for n, pair in enumerate(request.metadata):
        key, colon, value = pair.partition(":")
        if not key or not colon:
            raise InvalidField(f"metadata[{n}]", "must be key:value")
        ranked.append(("meta", facet("meta", f"{key}={value}")))
    if request.q.strip():
        asked = words(request.q)
        if not asked:
            raise InvalidField("q", "names no word to search for")
        if len(asked) > MAX_QUERY_WORDS:
            raise InvalidField("q", f"at most {MAX_QUERY_WORDS} words")
        # A longer word is more likely a rare one.
        asked.sort(key=len, reverse=True)
        ranked += [("term", facet("term", w)) for w in asked]
    if not 0 <= request.page_size <= MAX_PAGE:
        raise InvalidField("page_size", f"must be 0 (for {DEFAULT_PAGE}) to {MAX_PAGE}")
    size = request.page_size or DEFAULT_PAGE
    if not ranked:
        return Wanted(EVERY_ITEM, frozenset(), size)
    ranked.sort(key=lambda pair: LEAD_ORDER.index(pair[0]))
    facets = list(dict.fromkeys(f for _, f in ranked))
    probes = tuple(facets[:MAX_PROBES]) if len(facets) > 1 else ()
    return Wanted(facets[0], frozenset(facets[1:]), size, probes)


@dataclass(frozen=True)
class Cursor:
    """Where a walk resumes: the first place not yet examined, and the window it had grown to."""

    start: int = 1
    window: int = 0


def encode_cursor(cursor: Cursor) -> str:
    return f"{cursor.start}.{cursor.window}"


def decode_cursor(token: str) -> Cursor:
    if not token:
        return Cursor()
    try:
        start, window = (int(part) for part in token.split("."))
    except ValueError:
        raise InvalidField("page_token", "not a token this service gave") from None
    if start < 1 or not 0 <= window <= MAX_WINDOW:
        raise InvalidField("page_token", "not a token this service gave")
    return Cursor(start, window)


@dataclass
class Walk:
    """One request's walk over the lead facet's index entries, from the
    cursor's place to `end` (one past the project's last place)."""

    want: Wanted
    start: int
    end: int
    window: int
    lead: str = ""
    rest: frozenset[str] = frozenset()
    page: list[ItemSummary] = field(default_factory=list)
    windows: int = 0
    lookups: int = 0

    @classmethod
    def begin(cls, want: Wanted, cursor: Cursor, end: int) -> Walk:
        window = cursor.window or want.size
        return cls(want, cursor.start, end, window, want.lead, want.rest)

    def probe_span(self) -> tuple[int, int] | None:
        """The places to look each of `want.probes` up in, to choose the lead;
        None when there is no choice, or nothing to examine."""
        if not self.want.probes or self.start >= self.end:
            return None
        return self.start, min(self.start + min(self.window, PROBE_PLACES), self.end)

    def choose(self, found: dict[str, list[ItemSummary]], stop: int) -> None:
        """Lead with the probed facet that matched fewest items (the likelier
        one of a tie), and take its items of the probed places."""
        probes = self.want.probes
        lead = min(probes, key=lambda f: (len(found[f]), probes.index(f)))
        self.lead, self.rest = lead, (self.want.rest | {self.want.lead}) - {lead}
        self.lookups += len(probes) - 1
        self.take(found[lead], stop)

    def span(self) -> tuple[int, int] | None:
        """The places to look up next, [first, stop); None once the page is
        full, the project's items are all examined, or the request's share of
        windows is spent."""
        if len(self.page) >= self.want.size or self.start >= self.end:
            return None
        if self.windows >= MAX_WINDOWS:
            return None
        return self.start, min(self.start + self.window, self.end)

    def take(self, found: list[ItemSummary], stop: int) -> None:
        """Add the items of the window ending before `stop` that every facet
        matches, until the page is full; the cursor moves past what was examined."""
        first, before = self.start, len(self.page)
        self.windows += 1
        self.lookups += 1
        for item in sorted(found, key=lambda i: i.seq):
            if self.rest <= item.facets:
                self.page.append(item)
                if len(self.page) >= self.want.size:
                    self.start = item.seq + 1
                    return
        self.start = stop
        self._resize(stop - first, len(self.page) - before)

    def _resize(self, span: int, matched: int) -> None:
        """Size the next window to hold the rest of the page at the rate this
        one's places matched, at most four times this one."""
        needed = self.want.size - len(self.page)
        growth = 4.0 if matched == 0 else min(4.0, 1.25 * needed / matched)
        self.window = max(1, min(int(span * growth), MAX_WINDOW))

    def next_token(self) -> str:
        """The cursor of the next page; empty when every item was examined."""
        return encode_cursor(Cursor(self.start, self.window)) if self.start < self.end else ""
