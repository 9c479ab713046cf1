"""SQLite storage: one aiosqlite connection per engine, WAL, numbered migrations."""
