#ifndef LOGSURGE_CGEODATA_H
#define LOGSURGE_CGEODATA_H

/// The country database (a MaxMind DB file) embedded in the binary by `embed.c`.
/// The bytes are read-only, live for the whole process and are never freed.
const unsigned char *logsurge_country_db(void);

/// The size in bytes of the embedded country database.
unsigned long logsurge_country_db_size(void);

/// The SHA-256 (hex) of the embedded database, recorded when it was generated.
const char *logsurge_country_db_sha256(void);

/// The embedded database's country tables as `CountryTableImage` bytes (see embed.c).
const unsigned char *logsurge_country_tables(void);

/// The size in bytes of the embedded country tables.
unsigned long logsurge_country_tables_size(void);

#endif
