import Foundation
import GRDB
import LogSurge
import LogSurgeGeo
import LogSurgeInput

/// A state file that cannot be used: not SQLite, another program's database, damaged, or unwritable.
public struct StateError: Error, CustomStringConvertible {
    public var description: String
}

/// What `--state FILE` remembers between runs, in SQLite: the inputs already read and the
/// per-minute buckets, so that a nightly run reads only what is new and its detectors go on
/// from everything seen before.
///
/// An input is known by its content, not its name: a hash of its first bytes (decompressed, up
/// to 4 KiB), so that `access.log` renamed to `access.log.1` and later compressed to
/// `access.log.2.gz` is the same input. Of each, the state keeps how many bytes of content were
/// read; a later run reads from there. When the raw file (device, inode, size, modification
/// time) has not changed since, it is not opened at all.
///
/// The detectors' baselines are their history: the buckets of every run are kept, and each run
/// runs the detectors over all of them, reporting the events decided in minutes it added. So
/// the alerts of nightly runs are those of one run over everything, except that an episode
/// still going on at the end of a night stays open (one run over everything closes it at its
/// last minute).
public final class RunState {
    /// The file's path, for messages.
    public let path: String
    private let database: DatabaseQueue
    /// "LSRG": marks a logsurge state database (SQLite's `application_id`).
    static let applicationID: Int32 = 0x4C53_5247
    static let schemaVersion = 1
    /// Bytes of content that identify an input.
    static let fingerprintLength = 4096

    /// Opens (or creates) the state at `path`; an error names the file and what is wrong.
    public init(path: String) throws(StateError) {
        self.path = path
        var configuration = Configuration()
        configuration.label = "logsurge-state"
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            try database.write { db in
                let application = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                if application == 0 && version == 0 && tables == 0 {
                    try Self.create(db)
                    return
                }
                guard application == Self.applicationID else {
                    throw StateError(description: "\(path): not a logsurge state file (another program's SQLite database)")
                }
                guard version == Self.schemaVersion else {
                    throw StateError(description: "\(path): state file version \(version); this logsurge reads version \(Self.schemaVersion)")
                }
                let check = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "?"
                guard check == "ok" else { throw StateError(description: "\(path): state file damaged: \(check)") }
                // Damage inside records passes SQLite's structural check: the contents carry a checksum.
                let stored = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'checksum'")
                guard stored == (try Self.checksum(db)) else {
                    throw StateError(description: "\(path): state file damaged: its contents do not match their checksum")
                }
            }
        } catch let error as StateError {
            throw error
        } catch let error as DatabaseError {
            throw StateError(description: "\(path): not a usable state file: \(error.message ?? "\(error.resultCode)")")
        } catch {
            throw StateError(description: "\(path): not a usable state file: \(error)")
        }
    }

    private static func create(_ db: Database) throws {
        try db.execute(sql: """
            PRAGMA application_id = \(applicationID);
            PRAGMA user_version = \(schemaVersion);
            CREATE TABLE input (
                fingerprint INTEGER NOT NULL,   -- FNV-1a of the first prefix_length bytes of content
                prefix_length INTEGER NOT NULL,
                path TEXT NOT NULL,             -- where it was last seen
                device INTEGER NOT NULL, inode INTEGER NOT NULL, size INTEGER NOT NULL, modified INTEGER NOT NULL,
                consumed INTEGER NOT NULL,      -- bytes of content read
                PRIMARY KEY (fingerprint, prefix_length));
            CREATE TABLE bucket (
                minute INTEGER NOT NULL, site TEXT NOT NULL, country TEXT NOT NULL,
                requests INTEGER NOT NULL, status_2xx INTEGER NOT NULL, status_3xx INTEGER NOT NULL,
                status_4xx INTEGER NOT NULL, status_5xx INTEGER NOT NULL, bytes INTEGER NOT NULL,
                PRIMARY KEY (minute, site, country)) WITHOUT ROWID;
            CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
            """)
        try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('checksum', ?)", arguments: [try checksum(db)])
    }

    /// FNV-1a over every value of the inputs and buckets, in key order.
    static func checksum(_ db: Database) throws -> Int64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ bytes: some Sequence<UInt8>) {
            for byte in bytes {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
            }
            hash ^= 0xFF  // a separator, so that values cannot run into each other
            hash &*= 0x0000_0100_0000_01B3
        }
        for sql in ["SELECT * FROM input ORDER BY fingerprint, prefix_length", "SELECT * FROM bucket ORDER BY minute, site, country"] {
            let rows = try Row.fetchCursor(db, sql: sql)
            while let row = try rows.next() {
                for value in row.databaseValues {
                    switch value.storage {
                    case .null: mix([0])
                    case .int64(let number): withUnsafeBytes(of: number.littleEndian) { mix($0) }
                    case .double(let number): withUnsafeBytes(of: number.bitPattern.littleEndian) { mix($0) }
                    case .string(let text): mix(text.utf8)
                    case .blob(let data): mix(data)
                    }
                }
            }
        }
        return Int64(bitPattern: hash)
    }

    /// One input as this run finds it: its identity and how much of it earlier runs read.
    public struct Input {
        public var path: String
        var fingerprint: Int64
        var prefixLength: Int
        var raw: RawIdentity
        /// Bytes of content read before; `AnalyzeConfiguration.readBefore` when unchanged since.
        public var resumeAt: Int64
        /// The identity it had in the state (replaced once this run has read it).
        var known: (fingerprint: Int64, prefixLength: Int)?
    }

    struct RawIdentity: Equatable {
        var device: Int64, inode: Int64, size: Int64, modified: Int64
    }

    /// Looks up each file among the inputs read before.
    public func identify(_ paths: [String], reader: InputReader) throws(StateError) -> [Input] {
        do {
            return try database.read { db in
                let lengths = try Int.fetchAll(db, sql: "SELECT DISTINCT prefix_length FROM input")
                return try paths.compactMap { path -> Input? in
                    guard let raw = Self.rawIdentity(path) else { return nil }
                    let content = Self.leadingContent(path, reader: reader)
                    let prefixLength = min(content.count, Self.fingerprintLength)
                    var input = Input(path: path, fingerprint: Self.fingerprint(content.prefix(prefixLength)),
                                      prefixLength: prefixLength, raw: raw, resumeAt: 0)
                    for length in lengths where length <= content.count && length > 0 {
                        let row = try Row.fetchOne(db, sql: """
                            SELECT device, inode, size, modified, consumed FROM input WHERE fingerprint = ? AND prefix_length = ?
                            """, arguments: [Self.fingerprint(content.prefix(length)), length])
                        guard let row else { continue }
                        input.known = (Self.fingerprint(content.prefix(length)), length)
                        let before = RawIdentity(device: row["device"], inode: row["inode"], size: row["size"], modified: row["modified"])
                        input.resumeAt = before == raw ? AnalyzeConfiguration.readBefore : row["consumed"]
                        break
                    }
                    return input
                }
            }
        } catch {
            throw StateError(description: "\(path): cannot read the state: \(error)")
        }
    }

    /// The buckets of every earlier run.
    public func buckets() throws(StateError) -> MinuteBuckets {
        do {
            return try database.read { db in
                var buckets = MinuteBuckets()
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT minute, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes FROM bucket
                    """)
                while let row = try rows.next() {
                    let counts = BucketCounts(requests: row[3], status2xx: row[4], status3xx: row[5], status4xx: row[6],
                                              status5xx: row[7], bytes: UInt64(bitPattern: row[8] as Int64))
                    buckets.add(minute: row[0], site: row[1], country: CountryCode(isoCode: row[2]) ?? .unknown, counts: counts)
                }
                return buckets
            }
        } catch {
            throw StateError(description: "\(path): cannot read the state: \(error)")
        }
    }

    /// Records what this run read: each input's identity and content bytes now read, and its buckets.
    public func record(_ inputs: [Input], analysis: Analysis) throws(StateError) {
        let reports = Dictionary(analysis.inputs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        do {
            try database.write { db in
                for input in inputs {
                    // An input that could not be read to its end is read again from the start next time.
                    guard let report = reports[input.path], report.error == nil else { continue }
                    if input.resumeAt == AnalyzeConfiguration.readBefore { continue }
                    let consumed = input.resumeAt + (report.stats?.decompressedBytes ?? 0)
                    // Identified anew from its content now (it may have grown past the old prefix).
                    guard let raw = Self.rawIdentity(input.path) else { continue }
                    let content = Self.leadingContent(input.path, reader: InputReader())
                    let prefixLength = min(content.count, Self.fingerprintLength)
                    if let known = input.known {
                        try db.execute(sql: "DELETE FROM input WHERE fingerprint = ? AND prefix_length = ?",
                                       arguments: [known.fingerprint, known.prefixLength])
                    }
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO input (fingerprint, prefix_length, path, device, inode, size, modified, consumed)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [Self.fingerprint(content.prefix(prefixLength)), prefixLength, input.path,
                                         raw.device, raw.inode, raw.size, raw.modified, consumed])
                }
                let statement = try db.makeStatement(sql: """
                    INSERT INTO bucket (minute, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (minute, site, country) DO UPDATE SET
                        requests = requests + excluded.requests, status_2xx = status_2xx + excluded.status_2xx,
                        status_3xx = status_3xx + excluded.status_3xx, status_4xx = status_4xx + excluded.status_4xx,
                        status_5xx = status_5xx + excluded.status_5xx, bytes = bytes + excluded.bytes
                    """)
                for row in analysis.buckets.sortedRows() {
                    let c = row.counts
                    try statement.execute(arguments: [row.minute, row.site, row.country.description, Int64(c.requests),
                                                      Int64(c.status2xx), Int64(c.status3xx), Int64(c.status4xx),
                                                      Int64(c.status5xx), Int64(bitPattern: c.bytes)])
                }
                try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'checksum'", arguments: [try Self.checksum(db)])
            }
        } catch {
            throw StateError(description: "\(path): cannot write the state: \(error)")
        }
    }

    // MARK: - Identity

    static func rawIdentity(_ path: String) -> RawIdentity? {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        let modified = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        return RawIdentity(device: Int64(bitPattern: UInt64(status.st_dev)), inode: Int64(bitPattern: UInt64(status.st_ino)),
                           size: Int64(status.st_size), modified: modified)
    }

    /// The first bytes of content (decompressed), up to `fingerprintLength`.
    static func leadingContent(_ path: String, reader: InputReader) -> [UInt8] {
        // Plain text as it is on disk (a last line may still be growing).
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        var raw = [UInt8](repeating: 0, count: fingerprintLength)
        let count = raw.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, 0) }
        close(descriptor)
        guard count >= 0 else { return [] }
        raw.removeLast(raw.count - count)
        if !(count >= 2 && raw[0] == 0x1F && raw[1] == 0x8B) { return raw }
        // gzip: its first lines, inflated.
        struct Enough: Error {}
        var content: [UInt8] = []
        let small = InputReader(targetChunkSize: fingerprintLength, maxLineLength: reader.maxLineLength, readSize: 16 << 10,
                                inflater: .zlib)
        _ = try? small.read(.file(path)) { chunk in
            content += chunk.bytes
            if content.count >= fingerprintLength { throw Enough() }
        }
        return Array(content.prefix(fingerprintLength))
    }

    /// FNV-1a, 64 bits, as a signed integer for SQLite.
    static func fingerprint(_ bytes: some Sequence<UInt8>) -> Int64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: hash)
    }
}
