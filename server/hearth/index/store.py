"""The index's SQLite store: a rebuildable cache, never the source of truth.

WAL mode so readers (completion requests) never wait for the writer (the indexer); a schema
version that, when it differs, drops and rebuilds; a corrupt or locked database is moved aside
and rebuilt with a logged warning; an unwritable cache folder falls back to memory. FTS5 holds
definition names (trigram: fuzzy and substring lookups) and chunk identifier bags (BM25).
Full-text tables use external content and are maintained by the store itself, so a bulk index
can fill them in one pass at the end instead of row by row.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hearth.index.model import Chunk, Definition, FileSymbols, Import
from hearth.index.redact import redact

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4  # 4: chunk text, idents and signatures are redacted (hearth.index.redact)
BUSY_TIMEOUT_MS = 2000

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files(
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    language TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'disk',
    error TEXT
);
CREATE TABLE defs(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    qualname TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    start_col INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    end_col INTEGER NOT NULL,
    signature TEXT NOT NULL,
    doc TEXT
);
CREATE INDEX defs_name ON defs(name);
CREATE INDEX defs_file ON defs(file_id);
CREATE TABLE imports(
    file_id INTEGER NOT NULL,
    spec TEXT NOT NULL,
    names TEXT NOT NULL,
    line INTEGER NOT NULL,
    level INTEGER NOT NULL
);
CREATE INDEX imports_file ON imports(file_id);
CREATE TABLE chunks(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    text TEXT NOT NULL,
    idents TEXT NOT NULL
);
CREATE INDEX chunks_file ON chunks(file_id);
CREATE VIRTUAL TABLE defs_fts USING fts5(
    name, content='defs', content_rowid='id', tokenize='trigram', detail='none'
);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    idents, content='chunks', content_rowid='id',
    tokenize="unicode61 remove_diacritics 0 tokenchars '_'",
    detail='none'
);
"""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class FileRecord:
    path: str
    language: str
    size: int
    mtime_ns: int
    hash: str
    source: str
    error: str | None


@dataclass(frozen=True)
class DefinitionHit:
    path: str
    language: str
    definition: Definition


@dataclass(frozen=True)
class ChunkHit:
    path: str
    chunk: Chunk
    score: float  # higher is more similar


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def default_db_path(root: Path, cache_dir: Path) -> Path:
    """One database per workspace, under the cache folder (never inside the repository)."""
    key = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", root.resolve().name)[:40] or "root"
    return cache_dir / "index" / f"{name}-{key}" / "index.sqlite3"


def _fts_query_terms(terms: Iterable[str]) -> str:
    quoted = ['"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms) if t]
    return " OR ".join(quoted)


class IndexStore:
    """One connection per thread; writes are serialised by a lock."""

    def __init__(self, path: Path | None) -> None:
        """`path=None` (or ":memory:") keeps the index in memory."""
        self.requested_path = path
        self.in_memory = path is None
        self.warning: str | None = None
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._memory_uri = f"file:hearth-index-{id(self)}?mode=memory&cache=shared"
        self._keepalive: sqlite3.Connection | None = None
        self._open()

    # -- opening, schema, recovery -----------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.in_memory:
            conn = sqlite3.connect(self._memory_uri, uri=True, check_same_thread=False)
        else:
            assert self.requested_path is not None
            conn = sqlite3.connect(
                self.requested_path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if not self.in_memory:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def _open(self) -> None:
        if not self.in_memory:
            assert self.requested_path is not None
            try:
                self.requested_path.parent.mkdir(parents=True, exist_ok=True)
                probe = self.requested_path.parent / ".write-test"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                self._fall_back_to_memory(
                    f"cannot write the index folder {self.requested_path.parent} "
                    f"({exc.strerror}); keeping the index in memory for this session"
                )
        try:
            self._prepare(self._connect())
        except sqlite3.DatabaseError as exc:
            if self.in_memory:
                raise
            self._recover(str(exc))

    def _fall_back_to_memory(self, why: str) -> None:
        log.warning("%s", why)
        self.warning = why
        self.in_memory = True

    def _recover(self, why: str) -> None:
        """Move a corrupt or locked database aside and start a fresh one."""
        assert self.requested_path is not None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.requested_path.with_name(f"{self.requested_path.name}.broken-{stamp}")
        msg = f"the index database {self.requested_path} could not be used ({why}); rebuilding"
        log.warning("%s", msg)
        self.warning = msg
        try:
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.requested_path) + suffix)
                if src.exists():
                    src.replace(Path(str(aside) + suffix))
            self._prepare(self._connect())
        except (OSError, sqlite3.DatabaseError) as exc:
            self._fall_back_to_memory(
                f"{msg}, but that failed too ({exc}); keeping the index in memory"
            )
            self._prepare(self._connect())

    def _prepare(self, conn: sqlite3.Connection) -> None:
        if self.in_memory and self._keepalive is None:
            self._keepalive = conn  # a shared in-memory database lives while one connection does
        row = None
        try:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
        if row is None or row[0] != str(SCHEMA_VERSION):
            if row is not None:
                log.info("index schema %s -> %s: rebuilding", row[0], SCHEMA_VERSION)
            self._create_schema(conn)
        else:
            conn.execute("PRAGMA quick_check(1)").fetchone()
        self._local.conn = conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table') "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts_%'"
            )
        ]
        with conn:
            for t in tables:
                conn.execute(f'DROP TABLE IF EXISTS "{t}"')
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @property
    def location(self) -> str:
        return ":memory:" if self.in_memory else str(self.requested_path)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._keepalive is not None:
            self._keepalive.close()
            self._keepalive = None

    # -- writing ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def _delete_file_rows(self, conn: sqlite3.Connection, file_id: int, *, fts: bool) -> None:
        if fts:
            conn.execute(
                "INSERT INTO defs_fts(defs_fts, rowid, name) "
                "SELECT 'delete', id, name FROM defs WHERE file_id=?",
                (file_id,),
            )
            conn.execute(
                "INSERT INTO chunks_fts(chunks_fts, rowid, idents) "
                "SELECT 'delete', id, idents FROM chunks WHERE file_id=?",
                (file_id,),
            )
        conn.execute("DELETE FROM defs WHERE file_id=?", (file_id,))
        conn.execute("DELETE FROM imports WHERE file_id=?", (file_id,))
        conn.execute("DELETE FROM chunks WHERE file_id=?", (file_id,))

    def put_file(
        self,
        conn: sqlite3.Connection,
        record: FileRecord,
        symbols: FileSymbols,
        *,
        fts: bool = True,
    ) -> None:
        """Replace everything stored for `record.path` (inside a transaction)."""
        row = conn.execute("SELECT id FROM files WHERE path=?", (record.path,)).fetchone()
        if row is not None:
            file_id = int(row[0])
            self._delete_file_rows(conn, file_id, fts=fts)
            conn.execute(
                "UPDATE files SET language=?, size=?, mtime_ns=?, hash=?, source=?, error=? "
                "WHERE id=?",
                (
                    record.language,
                    record.size,
                    record.mtime_ns,
                    record.hash,
                    record.source,
                    record.error,
                    file_id,
                ),
            )
        else:
            cur = conn.execute(
                "INSERT INTO files(path, language, size, mtime_ns, hash, source, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.path,
                    record.language,
                    record.size,
                    record.mtime_ns,
                    record.hash,
                    record.source,
                    record.error,
                ),
            )
            file_id = int(cur.lastrowid or 0)
        if symbols.definitions:
            first_def = self._next_id(conn, "defs")
            conn.executemany(
                "INSERT INTO defs(id, file_id, name, kind, qualname, start_line, start_col, "
                "end_line, end_col, signature, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        first_def + i,
                        file_id,
                        d.name,
                        d.kind,
                        d.qualname,
                        d.start_line,
                        d.start_col,
                        d.end_line,
                        d.end_col,
                        redact(d.signature),
                        None if d.doc is None else redact(d.doc),
                    )
                    for i, d in enumerate(symbols.definitions)
                ],
            )
            if fts:
                conn.executemany(
                    "INSERT INTO defs_fts(rowid, name) VALUES (?, ?)",
                    [(first_def + i, d.name) for i, d in enumerate(symbols.definitions)],
                )
        if symbols.imports:
            conn.executemany(
                "INSERT INTO imports(file_id, spec, names, line, level) VALUES (?,?,?,?,?)",
                [
                    (file_id, imp.spec, "\x1f".join(imp.names), imp.line, imp.level)
                    for imp in symbols.imports
                ],
            )
        if symbols.chunks:
            first_chunk = self._next_id(conn, "chunks")
            rows = [
                (
                    first_chunk + i,
                    file_id,
                    c.start_line,
                    c.end_line,
                    c.kind,
                    c.name,
                    redact(c.text),  # an inline token never reaches the database
                    _clean_idents(c),
                )
                for i, c in enumerate(symbols.chunks)
            ]
            conn.executemany(
                "INSERT INTO chunks(id, file_id, start_line, end_line, kind, name, text, idents) "
                "VALUES (?,?,?,?,?,?,?,?)",
                rows,
            )
            if fts:
                conn.executemany(
                    "INSERT INTO chunks_fts(rowid, idents) VALUES (?, ?)",
                    [(r[0], r[7]) for r in rows],
                )

    @staticmethod
    def _next_id(conn: sqlite3.Connection, table: str) -> int:
        row = conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()
        return int(row[0])

    def remove_files(
        self, conn: sqlite3.Connection, paths: Iterable[str], *, fts: bool = True
    ) -> int:
        removed = 0
        for path in paths:
            row = conn.execute("SELECT id FROM files WHERE path=?", (path,)).fetchone()
            if row is None:
                continue
            self._delete_file_rows(conn, int(row[0]), fts=fts)
            conn.execute("DELETE FROM files WHERE id=?", (row[0],))
            removed += 1
        return removed

    def rebuild_fts(self) -> None:
        """Refill both full-text tables from their content tables (after a bulk load)."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO defs_fts(defs_fts) VALUES ('rebuild')")
            conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    # -- reading ---------------------------------------------------------------------------
    def files(self) -> dict[str, FileRecord]:
        return {
            r[0]: FileRecord(*r)
            for r in self.conn.execute(
                "SELECT path, language, size, mtime_ns, hash, source, error FROM files"
            )
        }

    def file(self, path: str) -> FileRecord | None:
        r = self.conn.execute(
            "SELECT path, language, size, mtime_ns, hash, source, error FROM files WHERE path=?",
            (path,),
        ).fetchone()
        return FileRecord(*r) if r else None

    _DEF_COLS = (
        "f.path, f.language, d.name, d.kind, d.qualname, d.start_line, d.start_col, "
        "d.end_line, d.end_col, d.signature, d.doc"
    )

    @staticmethod
    def _def_hit(r: Sequence[object]) -> DefinitionHit:
        return DefinitionHit(
            path=str(r[0]),
            language=str(r[1]),
            definition=Definition(
                name=str(r[2]),
                kind=str(r[3]),
                qualname=str(r[4]),
                start_line=int(r[5]),  # type: ignore[call-overload]
                start_col=int(r[6]),  # type: ignore[call-overload]
                end_line=int(r[7]),  # type: ignore[call-overload]
                end_col=int(r[8]),  # type: ignore[call-overload]
                signature=str(r[9]),
                doc=None if r[10] is None else str(r[10]),
            ),
        )

    def definitions(self, name: str, *, limit: int = 50) -> list[DefinitionHit]:
        """Definitions named exactly `name` (or whose qualname is `name`, e.g. "Stack.push")."""
        column = "d.qualname" if "." in name else "d.name"
        if column == "d.qualname":
            leaf = name.rpartition(".")[2]
            sql = (
                f"SELECT {self._DEF_COLS} FROM defs d JOIN files f ON f.id=d.file_id "
                "WHERE d.name=? AND d.qualname=? LIMIT ?"
            )
            rows = self.conn.execute(sql, (leaf, name, limit)).fetchall()
        else:
            sql = (
                f"SELECT {self._DEF_COLS} FROM defs d JOIN files f ON f.id=d.file_id "
                "WHERE d.name=? LIMIT ?"
            )
            rows = self.conn.execute(sql, (name, limit)).fetchall()
        return [self._def_hit(r) for r in rows]

    def definitions_with_prefix(self, prefix: str, *, limit: int = 50) -> list[DefinitionHit]:
        if not prefix:
            return []
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        sql = (
            f"SELECT {self._DEF_COLS} FROM defs d JOIN files f ON f.id=d.file_id "
            "WHERE d.name >= ? AND d.name < ? ORDER BY length(d.name), d.name LIMIT ?"
        )
        return [self._def_hit(r) for r in self.conn.execute(sql, (prefix, upper, limit))]

    def definitions_fuzzy(self, text: str, *, limit: int = 20) -> list[DefinitionHit]:
        """Names containing `text`'s trigrams (typos tolerated), best matches first."""
        import difflib

        if len(text) < 3:
            return self.definitions_with_prefix(text, limit=limit)
        grams = [text[i : i + 3] for i in range(len(text) - 2)]
        query = _fts_query_terms(grams)
        sql = (
            f"SELECT {self._DEF_COLS} FROM defs_fts JOIN defs d ON d.id=defs_fts.rowid "
            "JOIN files f ON f.id=d.file_id WHERE defs_fts MATCH ? "
            "ORDER BY bm25(defs_fts) LIMIT ?"
        )
        hits = [self._def_hit(r) for r in self.conn.execute(sql, (query, limit * 5))]
        lowered = text.lower()
        hits.sort(
            key=lambda h: -difflib.SequenceMatcher(None, lowered, h.definition.name.lower()).ratio()
        )
        return hits[:limit]

    def symbols_of(self, path: str) -> list[Definition]:
        sql = (
            f"SELECT {self._DEF_COLS} FROM defs d JOIN files f ON f.id=d.file_id "
            "WHERE f.path=? ORDER BY d.start_line, d.start_col"
        )
        return [self._def_hit(r).definition for r in self.conn.execute(sql, (path,))]

    def imports_of(self, path: str) -> list[Import]:
        sql = (
            "SELECT i.spec, i.line, i.names, i.level FROM imports i JOIN files f "
            "ON f.id=i.file_id WHERE f.path=? ORDER BY i.line"
        )
        return [
            Import(
                spec=str(r[0]),
                line=int(r[1]),
                names=tuple(n for n in str(r[2]).split("\x1f") if n),
                level=int(r[3]),
            )
            for r in self.conn.execute(sql, (path,))
        ]

    def chunks_of(self, path: str) -> list[Chunk]:
        sql = (
            "SELECT c.start_line, c.end_line, c.text, c.kind, c.name FROM chunks c "
            "JOIN files f ON f.id=c.file_id WHERE f.path=? ORDER BY c.start_line"
        )
        return [Chunk(*r) for r in self.conn.execute(sql, (path,))]  # idents left empty

    def similar_chunks(
        self,
        text: str,
        *,
        limit: int = 10,
        exclude_path: str | None = None,
        max_terms: int = 64,
        match_terms: list[str] | None = None,
    ) -> list[ChunkHit]:
        """Chunks sharing identifiers with `text`: BM25 candidates, re-ranked by Jaccard.
        `match_terms` (default: the identifiers of `text`) are what the full-text index is
        asked for; a few rare ones cost a fraction of a query for every word."""
        idents = list(dict.fromkeys(_IDENT.findall(text)))
        idents = [i for i in idents if len(i) > 1][-max_terms:]
        if not idents:
            return []
        query = _fts_query_terms(idents if match_terms is None else match_terms)
        if not query:
            return []
        sql = (
            "SELECT f.path, c.start_line, c.end_line, c.text, c.kind, c.name, c.idents "
            "FROM chunks_fts JOIN chunks c ON c.id=chunks_fts.rowid "
            "JOIN files f ON f.id=c.file_id WHERE chunks_fts MATCH ? "
            "ORDER BY bm25(chunks_fts) LIMIT ?"
        )
        wanted = set(idents)
        hits: list[ChunkHit] = []
        for r in self.conn.execute(sql, (query, limit * 4)):
            if exclude_path is not None and r[0] == exclude_path:
                continue
            bag = set(str(r[6]).split())
            score = len(wanted & bag) / len(wanted | bag) if bag else 0.0
            hits.append(
                ChunkHit(
                    path=str(r[0]),
                    chunk=Chunk(int(r[1]), int(r[2]), str(r[3]), str(r[4]), r[5]),
                    score=score,
                )
            )
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]

    def chunk_term_counts(self, terms: Iterable[str]) -> dict[str, int]:
        """How many chunks hold each term (the full-text index's own counts, by term as
        the index folds it): what tells a rare, distinctive identifier from a common one."""
        conn = self.conn
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.hearth_chunk_terms "
            "USING fts5vocab(main, 'chunks_fts', 'row')"
        )
        out: dict[str, int] = {}
        for term in terms:
            row = conn.execute(
                "SELECT doc FROM temp.hearth_chunk_terms WHERE term=?", (term.lower(),)
            ).fetchone()
            out[term] = int(row[0]) if row else 0
        return out

    def stats(self) -> dict[str, object]:
        conn = self.conn
        by_lang = dict(
            conn.execute("SELECT language, COUNT(*) FROM files GROUP BY language ORDER BY 2 DESC")
        )
        size = 0
        if not self.in_memory and self.requested_path is not None:
            for suffix in ("", "-wal"):
                p = Path(str(self.requested_path) + suffix)
                if p.exists():
                    size += p.stat().st_size
        return {
            "files": sum(by_lang.values()),
            "files_by_language": by_lang,
            "definitions": conn.execute("SELECT COUNT(*) FROM defs").fetchone()[0],
            "imports": conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0],
            "chunks": conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
            "database": self.location,
            "database_bytes": size,
        }


def _clean_idents(chunk: Chunk) -> str:
    """The chunk's search words, minus any that `redact` masks in its text (a token, a
    password value): they would otherwise reach the database through the FTS index."""
    masked = set(_IDENT.findall(chunk.text)) - set(_IDENT.findall(redact(chunk.text)))
    words = chunk.idents.split() if chunk.idents else _IDENT.findall(chunk.text)
    return " ".join(w for w in dict.fromkeys(words) if w not in masked)
